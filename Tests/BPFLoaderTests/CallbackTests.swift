import BPFHelpers
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import BPFVerifier
import Foundation
import Testing

/// bpf_loop and bpf_for_each_map_elem (the callback helpers), which the
/// loader turns into bytecode loops calling the callback by bpf-to-bpf
/// calls: a clang-compiled object on the interpreter and the native JIT
/// against a model of the kernel's helpers and against the kernel itself,
/// and the verifier's callback checks. (Every JIT backend runs the same
/// object against the interpreter in the backend test kit, `ObjectKit`.)
@Suite(.enabled(if: Clang.available, "clang or BPF headers missing"))
struct CallbackTests {
    static let source = testProgramsDirectory.appendingPathComponent("callbacks.c")
    static let programs = ["loop_packet", "loop_errors", "each_array", "each_hash"]

    static var packets: [[UInt8]] { ObjectFixtures.callbackPackets }

    /// What the kernel's helpers give, computed independently: per program and
    /// packet, r0 and the slots of `results` it writes.
    struct Model {
        var values = [UInt64](repeating: 0, count: 8)
        var flows: [UInt32: UInt64] = [:]

        mutating func run(_ program: String, _ p: [UInt8]) -> (UInt64, [Int: UInt64]) {
            switch program {
            case "loop_packet":
                guard p.count >= 15 else { return (0, [:]) }
                var sum: UInt64 = 0, buckets = [UInt64](repeating: 0, count: 4), calls: UInt64 = 0, done: UInt64 = 64
                for index in 0..<64 {
                    calls += 1
                    if index >= p.count || p[index] == 0xff { done = UInt64(index + 1); break }
                    sum += UInt64(p[index])
                    buckets[Int(p[index] & 3)] += 1
                    if index + 1 == Int(p[14]) { done = UInt64(index + 1); break }
                }
                let hist = buckets[0] | buckets[1] << 16 | buckets[2] << 32 | buckets[3] << 48
                return ((done * 4 + (sum & 3)) & 0xff, [0: done, 1: sum, 2: hist, 3: calls])
            case "loop_errors":
                // -E2BIG in 32 bits: the kernel inlines a loop with flags 0 and sets w0.
                return (2, [4: UInt64(bitPattern: -22), 5: UInt64(UInt32(bitPattern: -7)), 6: 0, 7: 5])
            case "each_array":
                guard p.count >= 16 else { return (0, [:]) }
                let stop = UInt32(p[15] & 7) | (p[15] & 8 != 0 ? 100 : 0)
                var total: UInt64 = 0, visited: UInt64 = 0
                for key in 0..<8 {
                    values[key] += UInt64(key + 1)
                    total += values[key]
                    visited += 1
                    if UInt32(key) == stop { break }
                }
                return (visited, [0: visited, 1: total, 2: visited, 3: UInt64(bitPattern: -22)])
            case "each_hash":
                guard p.count >= 15 else { return (0, [:]) }
                flows[UInt32(p[14] % 5), default: 0] += 1
                let n = UInt64(flows.count), sum = flows.values.reduce(0, +), keys = flows.keys.reduce(UInt64(0)) { $0 + UInt64($1) }
                return ((n * 16 + sum) & 0xff, [4: n, 5: sum, 6: keys | n << 32, 7: 1 | 1 << 8])
            default:
                return (0, [:])
            }
        }
    }

    static func results(_ object: LoadedObject) throws -> [UInt64] {
        let map = try #require(object.maps["results"])
        return try (0..<8).map { try map.lookup(key: le32(UInt32($0))).le64(at: 0) }
    }

    @Test func matchesTheModelOnEveryEngine() throws {
        for engine in engines {
            let object = try LoadedObject(bytes: Clang.object(Self.source))
            var model = Model()
            var expected = [UInt64](repeating: 0, count: 8)
            for packet in Self.packets {
                for name in Self.programs {
                    let program = try object.program(named: name)
                    let (r0, slots) = model.run(name, packet)
                    let (value, _) = try run(program, on: engine, input: packet)
                    #expect(value == r0, "\(name) on \(engine.name), packet \(packet.prefix(16))")
                    for (slot, v) in slots { expected[slot] = v }
                    #expect(try Self.results(object) == expected, "\(name) on \(engine.name)")
                }
            }
        }
    }

    /// Every program verifies: callbacks explored with the kernel's argument
    /// types, termination still proven (within a bound that counts each loop).
    @Test func programsVerifyAndTerminate() throws {
        let object = try LoadedObject(bytes: Clang.object(Self.source))
        for name in Self.programs {
            let program = try object.program(named: name)
            #expect(program.verification.refusal == nil && program.verification.gaveUp == nil, "\(name): \(program.verification.log)")
            #expect(program.proofs.terminates, "\(name): \(program.verification.terminationProblem ?? "")")
            #expect(program.proofs.maxInstructions > UInt64(program.verification.steps), "\(name): the bound counts the loop's iterations")
        }
    }

    /// The same object in the kernel (where bpf() is permitted): the same r0
    /// and the same `results` after every run.
    @Test(.enabled(if: KernelObject.availability.available, "kernel comparison skipped: \(KernelObject.availability.reason)"))
    func sameAsTheKernel() throws {
        let path = try Clang.compile(Self.source)
        let kernel = try KernelObject(path: path)
        defer { kernel.close() }
        // The kernel's maps keep their state from run to run, as the object's do.
        let object = try LoadedObject(bytes: [UInt8](Data(contentsOf: path)))
        for packet in Self.packets {
            for name in Self.programs {
                let (expected, _) = try kernel.run(name, input: packet)
                let (value, _) = try run(try object.program(named: name), on: engines[0], input: packet)
                #expect(value == expected, "\(name), packet \(packet.prefix(16))")
                let dumped = try kernel.dump(map: "results")
                let theirs = (0..<8).map { dumped[le32(UInt32($0))]?.le64(at: 0) ?? 0 }
                let ours = try Self.results(object)
                #expect(ours == theirs, "\(name): results after the run: \(ours) vs the kernel \(theirs)")
            }
        }
    }

    // MARK: The verifier's callback checks

    static func load(_ body: String, name: String) throws -> Result<LinkedProgram, ObjectLoadError> {
        let object = try LoadedObject(bytes: Clang.object(source: body, name: name))
        do { return .success(try object.program(named: "prog")) } catch { return .failure(error) }
    }

    static func refusal(_ body: String, name: String) throws -> String {
        switch try load(body, name: name) {
        case .success: return "loaded"
        case .failure(let error): return "\(error)"
        }
    }

    @Test func aCallbackMustReturnZeroOrOne() throws {
        let text = try Self.refusal("""
        static long cb(__u64 i, void *ctx) { return i == 3 ? 2 : 0; }
        SEC("xdp") int prog(struct xdp_md *ctx) { return bpf_loop(8, cb, 0, 0); }
        """, name: "callback_returns_two")
        #expect(text.contains("must return 0 or 1") && text.contains("instruction "), "\(text)")
    }

    @Test func theContextMustBeAStackPointerOrNull() throws {
        let text = try Self.refusal("""
        struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u64); __uint(max_entries, 1); } m SEC(".maps");
        static long cb(__u64 i, __u64 *v) { *v += i; return 0; }
        SEC("xdp") int prog(struct xdp_md *ctx) {
            __u32 k = 0; __u64 *v = bpf_map_lookup_elem(&m, &k);
            if (!v) return 0;
            return bpf_loop(8, cb, v, 0);
        }
        """, name: "callback_map_value_context")
        #expect(text.contains("must be a stack pointer or null"), "\(text)")
    }

    @Test func forEachNeedsAnIterableMap() throws {
        let text = try Self.refusal("""
        struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } ring SEC(".maps");
        static long cb(void *map, __u32 *key, __u64 *value, void *ctx) { return 0; }
        SEC("xdp") int prog(struct xdp_md *ctx) { return bpf_for_each_map_elem(&ring, cb, 0, 0); }
        """, name: "callback_ring_iteration")
        #expect(text.contains("bpf_for_each_map_elem (164)"), "\(text)")
    }

    /// The callback's arguments carry the kernel's types: the value pointer
    /// is a map value of the map's value size (accesses through it proven),
    /// the index a number below BPF_MAX_LOOPS.
    @Test func callbackArgumentsAreTyped() throws {
        guard case .success(let program) = try Self.load("""
        struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u64); __uint(max_entries, 4); } m SEC(".maps");
        static long cb(void *map, __u32 *key, __u64 *value, __u64 *sum) { *sum += *value + *key; return 0; }
        SEC("xdp") int prog(struct xdp_md *ctx) { __u64 sum = 0; bpf_for_each_map_elem(&m, cb, &sum, 0); return sum; }
        """, name: "callback_typed") else { Issue.record("refused"); return }
        #expect(program.verification.unproven.isEmpty, "\(program.verification.log)")
    }

    @Test func aCallbackIsOneKnownFunction() throws {
        let text = try Self.refusal("""
        static long a(__u64 i, void *ctx) { return 0; }
        static long b(__u64 i, void *ctx) { return 1; }
        SEC("xdp") int prog(struct xdp_md *ctx) {
            void *data = (void *)(long)ctx->data;
            return bpf_loop(4, data == (void *)(long)ctx->data_end ? (void *)a : (void *)b, 0, 0);
        }
        """, name: "callback_chosen_at_run_time")
        #expect(text.contains("not one function known at load") && text.contains("instruction "), "\(text)")
    }
}
