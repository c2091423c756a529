import BPFISA
import BPFMaps
import Foundation
import Testing
@testable import BPFELF

/// Compiles C to a BPF object with the Swift toolchain's clang.
enum ELFClang {
    static let path = ["/opt/swift/usr/bin/clang"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let available = path != nil && FileManager.default.fileExists(atPath: "/usr/include/bpf/bpf_helpers.h")
    static let includes: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/include")) ?? [])
        .filter { FileManager.default.fileExists(atPath: "/usr/include/\($0)/asm/types.h") }.map { "-I/usr/include/\($0)" }

    static func compile(_ source: String, name: String, target: String = "bpf", cpu: String = "v3") throws -> [UInt8] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-elf-tests-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("\(name).c"), object = directory.appendingPathComponent("\(name).\(target).o")
        try ("#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n" + source + "\nchar LICENSE[] SEC(\"license\") = \"Dual BSD/GPL\";\n")
            .write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path!)
        process.arguments = ["-O2", "-g", "-target", target, "-mcpu=\(cpu)"] + includes + ["-c", file.path, "-o", object.path]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.fileReadCorruptFile) }
        return try [UInt8](Data(contentsOf: object))
    }
}

@Suite(.enabled(if: ELFClang.available, "clang and libbpf headers are needed"))
struct ObjectFileTests {
    @Test func btfMapDefinitionsInAllTheirForms() throws {
        let object = try ObjectFile(bytes: ELFClang.compile("""
            struct pair { __u32 a; __u64 b; };
            struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __type(key, struct pair); __type(value, __u16); __uint(max_entries, 99); __uint(map_flags, 2); } typed SEC(".maps");
            struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(key_size, 4); __uint(value_size, 24); __uint(max_entries, 3); } sized SEC(".maps");
            struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 8192); __uint(pinning, LIBBPF_PIN_BY_NAME); } ring SEC(".maps");
            SEC("xdp") int p(struct xdp_md *c) {
                __u32 k = 0; struct pair q = {1, 2};
                return bpf_map_lookup_elem(&sized, &k) && bpf_map_lookup_elem(&typed, &q) && bpf_ringbuf_query(&ring, 0);
            }
            """, name: "btf_maps"))
        #expect(object.license == "Dual BSD/GPL")
        let btfMaps = object.maps.filter { $0.origin == .btf }
        #expect(Set(btfMaps.map(\.definition)) == [
            MapDefinition(name: "typed", type: .lruHash, keySize: 16, valueSize: 2, maxEntries: 99, flags: .noCommonLRU),
            MapDefinition(name: "sized", type: .perCPUArray, keySize: 4, valueSize: 24, maxEntries: 3),
            MapDefinition(name: "ring", type: .ringBuffer, keySize: 0, valueSize: 0, maxEntries: 8192),
        ])
        let loads = object.programs[0].program.instructions.compactMap { i -> Int32? in
            if case .loadImmediate64(_, .mapByIndex(let m)) = i { return m } else { return nil }
        }
        #expect(Set(loads) == Set(btfMaps.indices.map(Int32.init)))
    }

    @Test func statically_initialisedProgramArraysAreRecorded() throws {
        let object = try ObjectFile(bytes: ELFClang.compile("""
            int stage_b(struct xdp_md *c);
            struct {
                __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
                __uint(max_entries, 4);
                __type(key, __u32);
                __array(values, int (void *));
            } stages SEC(".maps") = { .values = { [1] = (void *)&stage_b, [3] = (void *)&stage_b } };
            SEC("xdp") int stage_a(struct xdp_md *c) { bpf_tail_call(c, &stages, 1); return XDP_PASS; }
            SEC("xdp") int stage_b(struct xdp_md *c) { return XDP_TX; }
            """, name: "prog_array"))
        let map = try #require(object.maps.first)
        #expect(map.definition == MapDefinition(name: "stages", type: .programArray, keySize: 4, valueSize: 4, maxEntries: 4))
        #expect(map.initialSlots == [.init(index: 1, target: .program("stage_b")), .init(index: 3, target: .program("stage_b"))])
        #expect(Set(object.programs(inSection: "xdp").map(\.name)) == ["stage_a", "stage_b"])
    }

    @Test func subprogramsAreAppendedAndCallsResolved() throws {
        let object = try ObjectFile(bytes: ELFClang.compile("""
            static __attribute__((noinline)) int twice(int x) { return x * 2; }
            __attribute__((noinline)) int add3(int x) { return x + 3; }
            static __attribute__((noinline)) int both(int x) { return twice(add3(x)); }
            SEC("xdp") int one(struct xdp_md *c) { return both(c->rx_queue_index); }
            SEC("tc") int two(void *c) { return twice(5); }
            """, name: "subprograms"))
        #expect(object.programs.map(\.name) == ["one", "two"])
        for program in object.programs {
            let start = try #require(program.subprogramsStart)
            try program.program.validate()
            for (pc, instruction) in program.program.instructions.enumerated() {
                guard case .call(.local) = instruction, let target = instruction.target(at: pc) else { continue }
                #expect(target >= start, "calls land in the appended .text")
            }
        }
    }

    @Test func globalDataReferencesCarryTheirOffsets() throws {
        let object = try ObjectFile(bytes: ELFClang.compile("""
            __u64 first = 1, second = 2;
            const volatile __u32 limit = 9;
            __u32 zeroed[4];
            SEC("xdp") int p(struct xdp_md *c) { zeroed[2] = limit; return second + first; }
            """, name: "global_refs"))
        let names = object.maps.map(\.name)
        #expect(names == [".data", ".rodata", ".bss"])
        #expect(object.maps[0].initialData == [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0])
        #expect(object.maps[1].definition.flags.contains(.readOnlyProgram))
        #expect(object.maps[2].initialData == Array(repeating: 0, count: 16))
        let references = Set(object.programs[0].program.instructions.compactMap { i -> [Int32]? in
            if case .loadImmediate64(_, .mapValueByIndex(let m, let offset)) = i { return [m, Int32(offset)] } else { return nil }
        })
        #expect(references.isSuperset(of: [[1, 0], [2, 0]]), "\(references)")
        #expect(references.contains([0, 0]) || references.contains([0, 8]))
    }

    @Test func bigEndianObjectsReadTheSame() throws {
        let source = "struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, __u32); __type(value, __u64); __uint(max_entries, 7); } m SEC(\".maps\");\n"
            + "SEC(\"xdp\") int p(struct xdp_md *c) { __u32 k = c->ingress_ifindex; return bpf_map_lookup_elem(&m, &k) != 0; }"
        let big = try ObjectFile(bytes: ELFClang.compile(source, name: "endian", target: "bpfeb"))
        let little = try ObjectFile(bytes: ELFClang.compile(source, name: "endian", target: "bpfel"))
        #expect(big.byteOrder == .big && little.byteOrder == .little)
        #expect(big.maps.map(\.definition) == little.maps.map(\.definition))
        #expect(big.programs.map(\.program) == little.programs.map(\.program))
        #expect(big.license == little.license)
    }

    @Test func errorsNameWhatIsWrong() throws {
        #expect(throws: ELFError.notELF("0 bytes is shorter than an ELF identification")) { try ObjectFile(bytes: []) }
        var bytes = try ELFClang.compile("SEC(\"xdp\") int p(struct xdp_md *c) { return 2; }", name: "tiny")
        bytes[4] = 1
        #expect(throws: ELFError.notELF("ELF class 1; BPF objects are ELF64 (class 2)")) { try ObjectFile(bytes: bytes) }
        bytes[4] = 2
        bytes[16] = 2 // ET_EXEC
        #expect(throws: ELFError.notELF("e_type 2; expected a relocatable object (1)")) { try ObjectFile(bytes: bytes) }
        bytes[16] = 1
        // Section header table pointing past the end.
        bytes[40] = 0xff; bytes[41] = 0xff; bytes[42] = 0xff
        do { _ = try ObjectFile(bytes: bytes); Issue.record("accepted") } catch {
            guard case .truncated(let what, _, _, _) = error else { Issue.record("\(error)"); return }
            #expect(what == "section header 0")
        }
    }
}
