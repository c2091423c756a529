import BPFLoader
import BPFMaps
import Foundation
import Testing

/// The same objects in the kernel (through bpftool) and in BPFKit, on every
/// engine: return values, output packets and map contents must agree.
@Suite(.enabled(if: Clang.available && KernelObject.availability.available,
                "kernel differential skipped: \(Clang.available ? KernelObject.availability.reason : "clang or BPF headers missing")"),
       .serialized)
struct KernelDifferentialTests {
    /// Packets every program sees, in this order (maps carry state from one to the next).
    static let packets: [[UInt8]] = [
        Packets.ipv4(protocol: 6, payload: Packets.bytes(100)),
        Packets.ipv4(protocol: 17, ttl: 2, payload: Packets.bytes(30, seed: 5)),
        Packets.ethernet(0x0806, payload: Packets.bytes(28, seed: 9)),
        Packets.ethernet(0x88b5, payload: [0xbe, 0xef, 0x08, 0x00] + Packets.bytes(60)),
        Packets.ethernet(0, payload: Packets.bytes(120, seed: 3)),
        Packets.ipv4(protocol: 1, ttl: 1, payload: Packets.bytes(50, seed: 7)),
        Packets.ethernet(0x0800, payload: Packets.bytes(3)),
        Array(Packets.bytes(64, seed: 11)),
        Packets.ipv4(protocol: 6, payload: Packets.bytes(1400, seed: 2)),
    ]

    static let sources: [URL] = {
        let examples = ["xdp_proto_count", "xdp_swap_mac", "global_data", "ringbuf_events", "atomics", "xdp_adjust"]
            .map { examplesDirectory.appendingPathComponent("\($0).c") }
        let own = ["context_fields", "checksums", "map_errors", "trace_lengths", "adjust_limits", "adjust_meta"]
            .map { testProgramsDirectory.appendingPathComponent("\($0).c") }
        return examples + own
    }()

    struct Case: CustomStringConvertible, Sendable {
        let source: URL
        let cpu: String
        var description: String { "\(source.deletingPathExtension().lastPathComponent) -mcpu=\(cpu)" }
    }

    static let cases = sources.flatMap { source in ["v3", "v4"].map { Case(source: source, cpu: $0) } }

    @Test(arguments: cases)
    func sameResultsAsTheKernel(_ c: Case) throws {
        let path = try Clang.compile(c.source, cpu: c.cpu)
        let kernel: KernelObject
        do {
            kernel = try KernelObject(path: path)
        } catch let error as KernelError where error.unavailableHelper != nil {
            // This kernel cannot be the oracle for the object: say so, compare nothing.
            print("kernel differential \(c) skipped: this kernel does not offer \(error.unavailableHelper!) to XDP programs")
            return
        }
        defer { kernel.close() }
        let bytes = try [UInt8](Data(contentsOf: path))

        var expected: [(program: String, packet: Int, value: UInt64, output: [UInt8])] = []
        for program in kernel.programs {
            for (i, packet) in Self.packets.enumerated() {
                let (value, output) = try kernel.run(program, input: packet)
                expected.append((program, i, value, output))
            }
        }
        let kernelMaps = kernel.pinnedMaps
        #expect(expected.count == kernel.programs.count * Self.packets.count && !expected.isEmpty)
        print("kernel differential \(c): \(kernel.programs) x \(Self.packets.count) packets, returns \(Set(expected.map(\.value)).sorted()), maps \(kernelMaps)")

        for engine in engines {
            let object = try LoadedObject(bytes: bytes, options: LoadOptions(trace: { _ in }))
            #expect(Set(object.object.programs.map(\.name)) == Set(kernel.programs), "same programs found")
            for run in expected {
                let program = try object.program(named: run.program)
                let (value, output) = try BPFLoaderTests.run(program, on: engine, input: Self.packets[run.packet])
                #expect(value == run.value, "\(c) \(run.program) packet \(run.packet) on \(engine.name): return value")
                #expect(output == run.output, "\(c) \(run.program) packet \(run.packet) on \(engine.name): output packet")
            }
            for map in object.maps.maps where [.hash, .array, .lruHash].contains(map.definition.type) {
                let pinned = map.name.hasPrefix(".") ? "_" + map.name.dropFirst().replacingOccurrences(of: ".", with: "_") : map.name
                guard let name = kernelMaps.first(where: { $0 == pinned || $0.hasSuffix(pinned) }) else { continue }
                let kernelEntries = try kernel.dump(map: name)
                let ours = Dictionary(uniqueKeysWithValues: map.entries().map { ($0.key, $0.value) })
                #expect(ours == kernelEntries, "\(c) map \(map.name) on \(engine.name)")
            }
        }
    }
}
