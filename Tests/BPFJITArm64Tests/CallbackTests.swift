import BPFKit
import Foundation
import Testing

/// bpf_loop and bpf_for_each_map_elem (Tests/Fixtures/bpf-programs/callbacks.c):
/// the loader turns them into bytecode loops with bpf-to-bpf calls, which
/// this JIT runs like any code. Every program over a sequence of packets,
/// each engine with its own maps: r0 and the `results` map after every
/// run must be the interpreter's (which BPFLoaderTests checks against a
/// model of the kernel's helpers and against the kernel).
@Suite(.enabled(if: (try? CCompiler()) != nil, "clang is needed to build the programs"))
struct CallbackTests {
    static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/bpf-programs/callbacks.c").path
    static let programs = ["loop_packet", "loop_errors", "each_array", "each_hash"]
    static let targets: [(name: String, architecture: Architecture, byteOrder: ByteOrder?)] = [("arm64", .arm64, nil)]

    static let packets: [[UInt8]] = {
        var all: [[UInt8]] = []
        for (i, (stop, array)) in [(3, 2), (0, 7), (200, 9), (17, 5), (64, 0), (1, 15), (9, 3)].enumerated() {
            var p = (0..<72).map { UInt8(truncatingIfNeeded: $0 &* 29 &+ i &* 7 &+ 1) }
            for j in p.indices where p[j] == 0xff { p[j] = 0xfe }
            p[14] = UInt8(stop)
            p[15] = UInt8(array)
            if i == 3 { p[40] = 0xff }
            all.append(p)
        }
        return all + [Array(all[0].prefix(20))]
    }()

    static func observe(_ name: String, engine: EngineKind, architecture: Architecture?, byteOrder: ByteOrder?) throws -> [String] {
        var request = LoadRequest(programName: name, trace: { _ in })
        request.byteOrder = byteOrder
        let file = try ProgramFile.load(path: source, request)
        let loaded = try LoadedProgram(file, engine: engine, architecture: architecture)
        let results = file.object?.map(named: "results")
        return try packets.map { packet in
            let r0: String
            do { r0 = "\(try loaded.run(input: packet).returnValue)" } catch { r0 = "error \(error)" }
            let slots = try (0..<8).map { (slot: UInt32) in
                try results?.lookup(key: withUnsafeBytes(of: byteOrder == .big ? slot.bigEndian : slot.littleEndian) { Array($0) }) ?? []
            }
            return "r0 \(r0) results \(slots)"
        }
    }

    @Test(arguments: programs)
    func matchesTheInterpreter(name: String) throws {
        for target in Self.targets {
            let reference = try Self.observe(name, engine: .interpreter, architecture: nil, byteOrder: target.byteOrder)
            #expect(reference.contains { !$0.contains("error") }, "\(name): the interpreter ran nothing to the end")
            let jit = try Self.observe(name, engine: .jit, architecture: target.architecture, byteOrder: target.byteOrder)
            for (k, (a, b)) in zip(reference, jit).enumerated() where a != b {
                Issue.record("\(name), packet \(k): interpreter \(a), \(target.name) \(b)")
            }
        }
    }
}
