import BPFMaps
import BPFRuntime
import Testing
@testable import BPFHelpers

/// Helpers called directly with a `HelperCall`, as engines call them.
@Suite struct DirectHelperTests {
    let memory = GuestMemory(count: 256)
    var access: MemoryAccess { MemoryAccess(regions: MemoryRegions([memory.region(.input)])) }

    func call(_ registry: HelperRegistry, _ helper: KernelHelper, _ args: [UInt64]) throws(HelperError) -> UInt64 {
        let a = args + Array(repeating: 0, count: 5 - args.count)
        let c = HelperCall(helperID: helper.rawValue, arguments: (a[0], a[1], a[2], a[3], a[4]), memory: access)
        return try registry[helper.rawValue]!.body(c)
    }

    @Test func tailCallHelperSaysTheEngineRunsIt() {
        do {
            _ = try call(KernelHelpers.registry(), .tailCall, [0, 0, 0])
            Issue.record("tail call returned")
        } catch {
            #expect(error.message.contains("the engine runs tail calls itself"))
        }
    }

    @Test func mapHelpersResolveHandlesAndReportErrno() throws {
        let map = try makeMap(MapDefinition(name: "h", type: .hash, keySize: 4, valueSize: 8, maxEntries: 1))
        let registry = KernelHelpers.registry(HelperEnvironment(maps: MapTable([map])))
        let base = memory.address
        memory.write([1, 0, 0, 0] + [9, 0, 0, 0, 0, 0, 0, 0] + [2, 0, 0, 0], at: 0)
        #expect(try call(registry, .mapUpdateElem, [map.handle, base, base + 4, 0]) == 0)
        #expect(try call(registry, .mapUpdateElem, [map.handle, base, base + 4, 1]) == Errno.result(Errno.EEXIST))
        #expect(try call(registry, .mapUpdateElem, [map.handle, base + 12, base + 4, 0]) == Errno.result(Errno.E2BIG))
        #expect(try call(registry, .mapDeleteElem, [map.handle, base + 12]) == Errno.result(Errno.ENOENT))
        let value = try call(registry, .mapLookupElem, [map.handle, base])
        #expect(value != 0 && map.valueRegions[0].permits(value, size: 8, write: true))
        #expect(throws: HelperError.self) { try call(registry, .mapLookupElem, [0xdead, base]) }
        #expect(throws: HelperError.self) { try call(registry, .mapLookupElem, [map.handle, 0x10]) }
    }

    @Test func tracePrintkGoesToTheCallback() throws {
        final class Sink: @unchecked Sendable { var lines: [String] = [] }
        let sink = Sink()
        let registry = KernelHelpers.registry(HelperEnvironment(trace: { sink.lines.append($0) }))
        memory.write(Array("n=%d\0".utf8), at: 0)
        #expect(try call(registry, .tracePrintk, [memory.address, 6, 42]) == 4)
        #expect(sink.lines == ["n=42"])
        memory.write(Array("no nul".utf8), at: 0)
        #expect(try call(registry, .tracePrintk, [memory.address, 6]) == Errno.result(Errno.EINVAL))
    }

    @Test func ringBufferHelpers() throws {
        let ring = try #require(try makeMap(MapDefinition(name: "rb", type: .ringBuffer, keySize: 0, valueSize: 0, maxEntries: 4096)) as? RingBuffer)
        let registry = KernelHelpers.registry(HelperEnvironment(maps: MapTable([ring])))
        let record = try call(registry, .ringbufReserve, [ring.handle, 16, 0])
        #expect(record != 0)
        #expect(try call(registry, .ringbufReserve, [ring.handle, 16, 1]) == 0, "flags must be 0")
        #expect(try call(registry, .ringbufSubmit, [record, 0]) == 0)
        #expect(throws: HelperError.self) { try call(registry, .ringbufSubmit, [record, 0]) }
        memory.write([7, 7, 7], at: 0)
        #expect(try call(registry, .ringbufOutput, [ring.handle, memory.address, 3, 0]) == 0)
        #expect(try call(registry, .ringbufOutput, [ring.handle, memory.address, 3, 4]) == Errno.result(Errno.EINVAL))
        #expect(try call(registry, .ringbufQuery, [ring.handle, 1]) == 4096)
        #expect(ring.consume() == [Array(repeating: 0, count: 16), [7, 7, 7]])
    }

    @Test func csumDiffReadsCheckedMemory() throws {
        memory.write([0xff, 0xff, 0, 0], at: 0)
        let registry = KernelHelpers.registry()
        #expect(try call(registry, .csumDiff, [0, 0, memory.address, 4, 0]) == 0xffff)
        #expect(try call(registry, .csumDiff, [0, 0, memory.address, 600, 0]) == Errno.result(Errno.EINVAL))
        #expect(throws: HelperError.self) { try call(registry, .csumDiff, [0, 0, memory.address + 250, 8, 0]) }
    }
}
