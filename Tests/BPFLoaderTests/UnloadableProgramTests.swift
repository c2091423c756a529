import BPFELF
import BPFLoader
import Foundation
import Testing

/// An object whose programs need different things loads the programs BPFKit
/// can run; choosing one that needs something BPFKit lacks fails with an error
/// naming the program and what it needs.
@Suite(.enabled(if: Clang.available, "clang or BPF headers missing"))
struct UnloadableProgramTests {
    static let source = """
    struct lpm_key { __u32 prefixlen; __u32 address; };
    struct { __uint(type, BPF_MAP_TYPE_LPM_TRIE); __type(key, struct lpm_key); __type(value, __u32); __uint(max_entries, 16);
             __uint(map_flags, BPF_F_NO_PREALLOC); } routes SEC(".maps");
    struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u64); __uint(max_entries, 1); } counts SEC(".maps");
    extern int bpf_kfunc_that_does_not_exist(int) __ksym;

    SEC("xdp") int uses_trie(struct xdp_md *ctx) {
        struct lpm_key key = { 32, 0x0100000a };
        return bpf_map_lookup_elem(&routes, &key) ? XDP_TX : XDP_PASS;
    }
    SEC("xdp") int uses_kfunc(struct xdp_md *ctx) { return bpf_kfunc_that_does_not_exist(1); }
    SEC("xdp") int counts_packets(struct xdp_md *ctx) {
        __u32 k = 0;
        __u64 *n = bpf_map_lookup_elem(&counts, &k);
        if (n) __sync_fetch_and_add(n, 1);
        return XDP_DROP;
    }
    char LICENSE[] SEC("license") = "GPL";
    """

    @Test func theLoadableProgramLoadsAndRuns() throws {
        let object = try LoadedObject(bytes: Clang.object(source: Self.source, name: "mixed_support"))
        // A kfunc call is resolved when its program is chosen (against the embedder's functions).
        #expect(object.object.programs.map(\.name) == ["uses_kfunc", "counts_packets"])
        #expect(Set(object.object.unloadablePrograms.map(\.name)) == ["uses_trie"])
        for engine in engines {
            // Chosen by name, and by default (the first program that can be loaded).
            for program in [try object.program(named: "counts_packets"), try object.program()] {
                let (value, _) = try run(program, on: engine, input: Packets.ipv4(protocol: 6, payload: Packets.bytes(20)))
                #expect(value == 1, "XDP_DROP on \(engine.name)")
            }
        }
        #expect(try object.maps["counts"]?.lookup(key: le32(0)) == le64(UInt64(2 * engines.count)))
    }

    @Test func choosingAnUnloadableProgramNamesItAndTheFeature() throws {
        let object = try LoadedObject(bytes: Clang.object(source: Self.source, name: "mixed_support"))
        for (program, feature) in [("uses_trie", "lpm_trie"), ("uses_kfunc", "bpf_kfunc_that_does_not_exist")] {
            do {
                _ = try object.program(named: program)
                Issue.record("\(program) loaded")
            } catch {
                let text = "\(error)"
                #expect(text.contains("program '\(program)'") && text.contains(feature), "\(text)")
                if program == "uses_trie" { #expect(text.contains("'routes'"), "\(text)") }
            }
        }
        // Selecting by section with only unloadable candidates reports the first of them.
        #expect(throws: ObjectLoadError.self) { _ = try LoadedObject(bytes: Clang.object(source: Self.source, name: "mixed_support"))
            .program(named: "uses_trie", section: "xdp") }
    }
}
