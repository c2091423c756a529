import BPFHelpers
import BPFISA
import BPFLoader
import BPFMaps
import BPFRuntime
import Foundation
import Testing

@Suite(.enabled(if: Clang.available, "clang is needed to build the examples"))
struct ConcurrentRunTests {
    /// Several threads run the protocol counter on one loaded object at once:
    /// every packet must be counted (the program adds atomically) and new keys
    /// must be created exactly once (BPF_NOEXIST under the map's lock).
    @Test func countersAddUpAcrossThreads() throws {
        for engine in engines {
            let object = try LoadedObject(bytes: Clang.object(examplesDirectory.appendingPathComponent("xdp_proto_count.c"), cpu: "v4"))
            let program = try object.program()
            let prepared = try engine.prepare(program.program, configuration: program.engineConfiguration())
            let threads = 4, perThread = 2_000
            let failures = Collected()
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                for i in 0..<perThread {
                    let packet = Packets.ipv4(protocol: UInt8([6, 17, 1][(i + t) % 3]), payload: Packets.bytes(10 + i % 7))
                    do {
                        let run = try program.makeRun(input: packet)
                        if try prepared.run(run.input) != 2 { failures.append("thread \(t) run \(i): not XDP_PASS") }
                    } catch {
                        failures.append("thread \(t) run \(i): \(error)")
                    }
                }
            }
            #expect(failures.items.isEmpty, "\(failures.items.prefix(3))")
            let counts = try #require(object.map(named: "protocol_counts"))
            let total = try [6, 17, 1].map { try counts.lookup(key: le32(UInt32($0))).le64(at: 0) }.reduce(0, +)
            #expect(total == UInt64(threads * perThread), "on \(engine.name)")
        }
    }

    /// Per-CPU values: each thread pinned to its own slot counts only its own packets.
    @Test func perCPUSlotsAreSeparate() throws {
        let bytes = try Clang.object(source: """
            struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __type(key, __u32); __type(value, __u64); __uint(max_entries, 1); } hits SEC(".maps");
            SEC("xdp") int count(struct xdp_md *c) {
                __u32 k = 0; __u64 *v = bpf_map_lookup_elem(&hits, &k);
                if (!v) return XDP_ABORTED;
                *v += 1;
                return bpf_get_smp_processor_id();
            }
            char LICENSE[] SEC("license") = "GPL";
            """, name: "percpu_hits")
        for engine in engines {
            let object = try LoadedObject(bytes: bytes)
            let program = try object.program()
            let prepared = try engine.prepare(program.program, configuration: program.engineConfiguration())
            let slots = min(CPUSlots.count, 4)
            DispatchQueue.concurrentPerform(iterations: slots) { slot in
                CPUSlots.withSlot(slot) {
                    for _ in 0..<(100 * (slot + 1)) {
                        guard let run = try? program.makeRun(input: Packets.bytes(20)), let cpu = try? prepared.run(run.input) else { return }
                        precondition(cpu == UInt64(slot))
                    }
                }
            }
            let values = try #require(object.map(named: "hits")).lookup(key: le32(0))
            for slot in 0..<slots { #expect(values.le64(at: slot * 8) == UInt64(100 * (slot + 1)), "slot \(slot) on \(engine.name)") }
        }
    }

    /// A hand-written `mem` program (no ELF) linked against a map by file descriptor.
    @Test func memProgramWithAMapByFileDescriptor() throws {
        let map = try makeMap(MapDefinition(name: "acc", type: .array, keySize: 4, valueSize: 8, maxEntries: 1))
        let program = Program([
            .load(.double, dst: .r6, src: .r1, offset: 0),               // r6 = first 8 input bytes
            .storeImmediate(.word, dst: .r10, offset: -4, imm: 0),        // key 0
            .loadImmediate64(dst: .r1, .mapByFD(3)),
            .alu(.w64, .mov, dst: .r2, .register(.r10)),
            .alu(.w64, .add, dst: .r2, .immediate(-4)),
            .call(.helper(KernelHelper.mapLookupElem.rawValue)),
            .branch(.w64, .eq, dst: .r0, .immediate(0), offset: 2),
            .atomic(.w64, .add(fetch: false), dst: .r0, offset: 0, src: .r6),
            .alu(.w64, .mov, dst: .r0, .register(.r6)),
            .exit,
        ], name: "accumulate")
        let linked = try LinkedProgram(program: program, type: ProgramTypes.mem, maps: [map], fileDescriptors: [3: 0])
        for engine in engines {
            let (value, output) = try run(linked, on: engine, input: le64(40) + [9])
            #expect(value == 40 && output == le64(40) + [9])
        }
        #expect(try map.lookup(key: le32(0)) == le64(40 * UInt64(engines.count)))
    }
}
