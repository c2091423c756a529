import BPFISA
import BPFKit
import Foundation
import Testing

/// Maps of maps on a 32-bit target: an outer lookup gives an inner map's
/// 64-bit host handle, which a guest word cannot hold; the guest gets a
/// token standing for it (never mapped memory) that map arguments turn back
/// into the handle. The counts match the interpreter's and the program's
/// meaning, and reading through the handle fails as it does natively.
@Suite(.enabled(if: (try? CCompiler()) != nil, "clang is needed"))
struct MapInMapTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let targets: [(Architecture, ByteOrder?)] = [(Architecture.arm32, nil)]

    static func packet(_ slot: UInt8) -> [UInt8] { [UInt8](repeating: 0xff, count: 12) + [0x88, 0xb5, slot] + [UInt8](repeating: 0, count: 30) }

    static func runs(_ path: String, program: String, engine: EngineKind, architecture: Architecture?, byteOrder: ByteOrder?,
                     slots: [UInt8]) throws -> [String] {
        var request = LoadRequest(programName: program)
        request.byteOrder = byteOrder
        let file = try ProgramFile.load(path: path, request)
        let loaded = try LoadedProgram(file, engine: engine, architecture: architecture)
        return slots.map { slot in
            do { return "r0 \(try loaded.run(input: Self.packet(slot)).returnValue)" } catch { return "error" }
        }
    }

    /// Slots 0 and 2 hold inner maps (element 1 counts), 1 and 3 none (100).
    @Test func countsThroughInnerMaps() throws {
        let path = Self.root.appendingPathComponent("Tests/Fixtures/bpf-programs/map_in_map.c").path
        let slots: [UInt8] = [0, 0, 2, 1, 0, 3, 2]
        let expected = ["r0 1", "r0 2", "r0 1", "r0 100", "r0 3", "r0 100", "r0 2"]
        for (architecture, order) in Self.targets {
            let reference = try Self.runs(path, program: "count_array", engine: .interpreter, architecture: nil, byteOrder: order, slots: slots)
            #expect(reference == expected)
            let jit = try Self.runs(path, program: "count_array", engine: .jit, architecture: architecture, byteOrder: order, slots: slots)
            #expect(jit == expected, "\(architecture)")
        }
    }

    /// The outer lookup's result is a handle, not memory: reading it is an error here as on the native engines.
    @Test func readingAnInnerMapHandleIsAnError() throws {
        let source = """
        #include "\(Self.root.path)/examples/common.h"
        struct inner { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u32); __uint(max_entries, 1); } a SEC(".maps");
        struct { __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, 1); __type(key, __u32); __array(values, struct inner); }
            outer SEC(".maps") = { .values = { &a } };
        SEC("xdp") int peek(struct xdp_md *ctx) {
            __u32 k = 0;
            __u32 *p = bpf_map_lookup_elem(&outer, &k);
            return p ? *p : 7;
        }
        char LICENSE[] SEC("license") = "GPL";
        """
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("inner_peek_\(getpid()).c")
        try source.write(to: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: path) }
        for (architecture, order) in Self.targets {
            #expect(try Self.runs(path.path, program: "peek", engine: .jit, architecture: architecture, byteOrder: order, slots: [0]) == ["error"],
                    "\(architecture)")
        }
    }
}
