import BPFMaps
import BPFRuntime
import Testing
@testable import BPFHelpers

/// The kernel helpers' native entries against their bodies: the same
/// sequence of calls on two identical sets of maps, one through the native
/// entries, one through the bodies, must give the same results (addresses
/// compared by what they hold); what the native entries do not handle must
/// reach the fallback.
@Suite struct NativeEntryTests {
    /// What the fallback returns in these tests (the engine's full path in real runs).
    static let fellBack: UInt64 = 0xFA11_BACC
    static let fallback: NativeHelperFrame.Fallback = { _, _, _, _, _, _ in NativeEntryTests.fellBack }

    /// One environment: its maps, registry and a 256-byte "BPF stack".
    struct Side {
        let maps: [any BPFMap]
        let registry: HelperRegistry
        let stack = GuestMemory(count: 256)

        init() throws {
            maps = [try makeMap(MapDefinition(name: "h", type: .hash, keySize: 4, valueSize: 8, maxEntries: 2)),
                    try makeMap(MapDefinition(name: "a", type: .array, keySize: 4, valueSize: 8, maxEntries: 4)),
                    try makeMap(MapDefinition(name: "p", type: .perCPUArray, keySize: 4, valueSize: 8, maxEntries: 4)),
                    try makeMap(MapDefinition(name: "r", type: .ringBuffer, keySize: 0, valueSize: 0, maxEntries: 4096))]
            registry = KernelHelpers.registry(HelperEnvironment(maps: MapTable(maps)))
        }

        /// Calls `helper` natively (nil: it fell back) with r1 the handle of map `map`.
        func native(_ helper: KernelHelper, map: Int, _ args: [UInt64], stackBounds: (UInt64, UInt64)? = nil) throws -> UInt64? {
            let entry = try #require(registry[helper.rawValue]?.native)
            var frame = NativeHelperFrame()
            (frame.stackBase, frame.stackEnd) = stackBounds ?? (stack.address, stack.address + UInt64(stack.count))
            frame.fallback = NativeEntryTests.fallback
            let a = [maps[map].handle] + args + Array(repeating: 0, count: 4 - args.count)
            let result = withUnsafeMutablePointer(to: &frame) {
                entry.function(a[0], a[1], a[2], a[3], a[4], UnsafeMutableRawPointer($0), entry.data)
            }
            return result == NativeEntryTests.fellBack ? nil : result
        }

        /// Calls `helper`'s body with the stack as the only region.
        func body(_ helper: KernelHelper, map: Int, _ args: [UInt64]) throws -> UInt64 {
            let a = [maps[map].handle] + args + Array(repeating: 0, count: 4 - args.count)
            let call = HelperCall(helperID: helper.rawValue, arguments: (a[0], a[1], a[2], a[3], a[4]),
                                  memory: MemoryAccess(regions: MemoryRegions([stack.region(.stack)])))
            return try registry[helper.rawValue]!.body(call)
        }
    }

    /// A key or value at `offset` of the stack, as an address.
    func put(_ bytes: [UInt8], at offset: Int, in side: Side) -> UInt64 {
        side.stack.write(bytes, at: offset)
        return side.stack.address + UInt64(offset)
    }

    @Test func mapEntriesMatchTheBodies() throws {
        let native = try Side(), reference = try Side()
        /// (helper, map index, key, value, flags)
        let calls: [(KernelHelper, Int, UInt32, UInt64?, UInt64)] = [
            (.mapUpdateElem, 0, 1, 10, 0), (.mapUpdateElem, 0, 1, 11, 1), (.mapUpdateElem, 0, 2, 20, 2),
            (.mapUpdateElem, 0, 2, 20, 0), (.mapUpdateElem, 0, 3, 30, 0), (.mapUpdateElem, 0, 1, 12, 7),
            (.mapLookupElem, 0, 1, nil, 0), (.mapLookupElem, 0, 3, nil, 0), (.mapDeleteElem, 0, 2, nil, 0),
            (.mapDeleteElem, 0, 2, nil, 0), (.mapLookupElem, 0, 2, nil, 0),
            (.mapUpdateElem, 1, 0, 5, 0), (.mapUpdateElem, 1, 3, 6, 2), (.mapUpdateElem, 1, 4, 7, 0),
            (.mapUpdateElem, 1, 1, 8, 1), (.mapLookupElem, 1, 3, nil, 0), (.mapLookupElem, 1, 9, nil, 0),
            (.mapUpdateElem, 2, 2, 9, 0), (.mapLookupElem, 2, 2, nil, 0), (.mapLookupElem, 2, 4, nil, 0),
        ]
        for (helper, map, key, value, flags) in calls {
            var results: [UInt64] = []
            for (index, side) in [native, reference].enumerated() {
                let k = put(le32(key), at: 16, in: side)
                var args = [k]
                if let value { args += [put(le64(value), at: 32, in: side), flags] }
                let result = index == 0 ? try #require(try side.native(helper, map: map, args), "\(helper) fell back")
                                             : try side.body(helper, map: map, args)
                // A lookup's address differs between the sides: compare what it holds.
                results.append(helper == .mapLookupElem && result != 0 ? 1 << 63 | peek(result) : result)
            }
            #expect(results[0] == results[1], "\(helper) map \(map) key \(key)")
        }
        for (a, b) in zip(native.maps.prefix(3), reference.maps.prefix(3)) {
            #expect(a.entries().map(\.value) == b.entries().map(\.value) && a.keys() == b.keys(), "\(a.name)")
        }
    }

    @Test func whatTheEntriesDoNotHandleFallsBack() throws {
        let side = try Side()
        let key = put(le32(1), at: 16, in: side), value = put(le64(1), at: 32, in: side)
        let elsewhere = GuestMemory(count: 16)
        // A key or value outside the stack, or straddling its end.
        #expect(try side.native(.mapLookupElem, map: 0, [elsewhere.address]) == nil)
        #expect(try side.native(.mapUpdateElem, map: 0, [key, elsewhere.address, 0]) == nil)
        #expect(try side.native(.mapLookupElem, map: 0, [side.stack.address + 254]) == nil)
        #expect(try side.native(.mapLookupElem, map: 0, [key], stackBounds: (0, 0)) == nil)
        // A handle that is no map, a map type the entries leave to the body, an array delete.
        let entry = try #require(side.registry[KernelHelper.mapLookupElem.rawValue]?.native)
        var frame = NativeHelperFrame()
        frame.fallback = Self.fallback
        frame.stackBase = side.stack.address
        frame.stackEnd = side.stack.address + 256
        let unknown = withUnsafeMutablePointer(to: &frame) { entry.function(0xdead, key, 0, 0, 0, UnsafeMutableRawPointer($0), entry.data) }
        #expect(unknown == Self.fellBack)
        #expect(try side.native(.mapLookupElem, map: 3, [key]) == nil)
        #expect(try side.native(.mapDeleteElem, map: 1, [key]) == nil)
        // And the common case does not.
        #expect(try side.native(.mapUpdateElem, map: 0, [key, value, 0]) == 0)
    }

    @Test func hotKernelHelpersHaveNativeEntries() {
        let registry = KernelHelpers.registry()
        for helper: KernelHelper in [.mapLookupElem, .mapUpdateElem, .mapDeleteElem, .ktimeGetNs, .getSmpProcessorID] {
            #expect(registry[helper.rawValue]?.native != nil, "\(helper)")
        }
        #expect(registry[KernelHelper.tracePrintk.rawValue]?.native == nil)
        var frame = NativeHelperFrame()
        let cpu = registry[KernelHelper.getSmpProcessorID.rawValue]!.native!
        let id = withUnsafeMutablePointer(to: &frame) { cpu.function(0, 0, 0, 0, 0, UnsafeMutableRawPointer($0), nil) }
        #expect(id == UInt64(CPUSlots.current))
        let clock = registry[KernelHelper.ktimeGetNs.rawValue]!.native!
        let t0 = KernelHelpers.clock(CLOCK_MONOTONIC)
        let t1 = withUnsafeMutablePointer(to: &frame) { clock.function(0, 0, 0, 0, 0, UnsafeMutableRawPointer($0), nil) }
        #expect(t1 >= t0 && t1 - t0 < 10_000_000_000)
    }

    func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    func le64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    func peek(_ address: UInt64) -> UInt64 { UnsafeRawPointer(bitPattern: UInt(address))!.loadUnaligned(as: UInt64.self) }
}

#if canImport(Glibc)
import Glibc
#endif
