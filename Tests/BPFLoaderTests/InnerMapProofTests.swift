import BPFISA
import BPFKit
import BPFLoader
import Foundation
import Testing

/// The verifier follows lookups through a map of maps: the outer lookup
/// gives an inner map shaped as the template (or null), and a lookup in it a
/// value of the template's size, as the kernel's verifier knows from the
/// inner map template. Accesses into inner values are proven, and one past
/// the value is refused (the run-time check could not tell it from an
/// access to the neighbouring element of the inner map's slab).
@Suite(.enabled(if: Clang.available, "clang or BPF headers missing"))
struct InnerMapProofTests {
    static func source(readAt index: Int) -> String {
        """
        struct inner { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u64); __uint(max_entries, 4); }
            a SEC(".maps"), b SEC(".maps");
        struct { __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, 2); __type(key, __u32); __array(values, struct inner); }
            outer SEC(".maps") = { .values = { &a, &b } };
        SEC("xdp") int peek(struct xdp_md *ctx) {
            __u32 k = 0;
            void *inner = bpf_map_lookup_elem(&outer, &k);
            if (!inner) return 7;
            __u32 key = 1;
            volatile __u64 *v = bpf_map_lookup_elem(inner, &key);
            if (!v) return 8;
            v[\(index)] = 5;
            return v[\(index)] + 1;
        }
        char LICENSE[] SEC("license") = "GPL";
        """
    }

    /// Every load and store of the program (stack, inner value) is proven.
    @Test func innerValueAccessesAreProven() throws {
        let object = try LoadedObject(bytes: Clang.object(source: Self.source(readAt: 0), name: "inner_proven"))
        let program = try object.program(named: "peek")
        let proofs = program.verification.proofs
        let accesses = program.program.instructions.indices.filter {
            switch program.program.instructions[$0] {
            case .load, .store, .storeImmediate: true
            default: false
            }
        }
        #expect(!accesses.isEmpty)
        for pc in accesses { #expect(proofs.isSafeAccess(at: pc), "instruction \(pc): \(program.program.instructions[pc]) not proven") }
        for engine in engines {
            #expect(try run(program, on: engine, input: [UInt8](repeating: 0, count: 64)).0 == 6, "on \(engine.name)")
        }
    }

    /// v[1] is bytes 8-16 of an 8-byte value: refused, as the kernel refuses it.
    @Test func accessPastAnInnerValueIsRefused() throws {
        let bytes = try Clang.object(source: Self.source(readAt: 1), name: "inner_past")
        let object = try LoadedObject(bytes: bytes)
        #expect { _ = try object.program(named: "peek") } throws: { error in
            "\(error)".contains("outside the 8-byte value")
        }
    }
}

/// The kernel refuses the same out-of-bounds inner value access, and loads the in-bounds one.
@Suite(.enabled(if: Clang.available && KernelObject.availability.available,
                "kernel comparison skipped: \(Clang.available ? KernelObject.availability.reason : "clang or BPF headers missing")"),
       .serialized)
struct InnerMapKernelTests {
    @Test func kernelAgrees() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-sources-\(getpid())", isDirectory: true)
        for (index, loads) in [(0, true), (1, false)] {
            _ = try Clang.object(source: InnerMapProofTests.source(readAt: index), name: "inner_kernel_\(index)")
            let path = try Clang.compile(directory.appendingPathComponent("inner_kernel_\(index).c"))
            if loads {
                let kernel = try KernelObject(path: path)
                defer { kernel.close() }
                #expect(try kernel.run("peek", input: [UInt8](repeating: 0, count: 64)).0 == 6)
            } else {
                #expect(throws: KernelError.self, "the kernel refuses v[1]") { _ = try KernelObject(path: path) }
            }
        }
    }
}
