import BPFHelpers
import BPFLoader
import BPFMaps
import BPFRuntime
import Foundation
import Testing

/// XDP redirects (`bpf_redirect`, `bpf_redirect_map` over devmap, devmap_hash,
/// cpumap and xskmap), checked against the kernel's `__bpf_xdp_redirect_map`
/// rules and, where bpf() is permitted, against the kernel itself.
@Suite(.enabled(if: Clang.available, "clang or BPF headers missing"))
struct RedirectTests {
    static let source = testProgramsDirectory.appendingPathComponent("redirects.c")

    /// A packet whose first two payload bytes are the program's key and flags.
    static func packet(key: UInt8, flags: UInt8) -> [UInt8] { Packets.ethernet(0x88b5, payload: [key, flags] + Packets.bytes(40)) }

    /// The entries both BPFKit and the kernel get (ifindex 1 is loopback, which exists in every network namespace).
    static func fill(_ object: LoadedObject) throws {
        try #require(object.maps["tx_port"]).update(key: le32(1), value: le32(1))
        try #require(object.maps["tx_hash"]).update(key: le32(3), value: le32(1) + le32(0))
        try #require(object.maps["cpus"]).update(key: le32(0), value: le32(64) + le32(0))
    }

    /// One run: r0 and the forwarding decision.
    static func run(_ object: LoadedObject, _ name: String, on engine: any ExecutionEngine, _ input: [UInt8])
        throws -> (UInt64, RedirectTarget?) {
        let program = try object.program(named: name)
        let prepared = try engine.prepare(program.program, configuration: program.engineConfiguration())
        let run = try program.makeRun(input: input)
        let value = try prepared.run(run.input)
        return (value, run.redirect(returnValue: value))
    }

    struct Expectation: Sendable, CustomStringConvertible {
        let program: String, key: UInt8, flags: UInt8, value: UInt64, target: RedirectTarget?
        var description: String { "\(program) key \(key) flags 0x\(String(flags, radix: 16))" }
    }

    /// What the kernel's helpers return for each case, with `fill`'s entries.
    static let expectations: [Expectation] = {
        let devmap = { (key: UInt32, ifindex: UInt32) in
            RedirectTarget(kind: .deviceMap, map: "tx_port", mapType: .deviceMap, key: key, interface: ifindex)
        }
        return [
            // bpf_redirect: any flag aborts.
            Expectation(program: "redirect_ifindex", key: 5, flags: 0, value: 4, target: RedirectTarget(kind: .interface, key: 5, interface: 5)),
            Expectation(program: "redirect_ifindex", key: 5, flags: 1, value: 0, target: nil),
            // devmap: present entry; absent entries fall back to the flags' low bits; bits outside
            // the action mask and the broadcast flags abort.
            Expectation(program: "redirect_devmap", key: 1, flags: 0, value: 4, target: devmap(1, 1)),
            Expectation(program: "redirect_devmap", key: 1, flags: 2, value: 4, target: devmap(1, 1)),
            Expectation(program: "redirect_devmap", key: 2, flags: 0, value: 0, target: nil),
            Expectation(program: "redirect_devmap", key: 2, flags: 1, value: 1, target: nil),
            Expectation(program: "redirect_devmap", key: 2, flags: 2, value: 2, target: nil),
            Expectation(program: "redirect_devmap", key: 200, flags: 3, value: 3, target: nil),
            Expectation(program: "redirect_devmap", key: 1, flags: 4, value: 0, target: nil),
            Expectation(program: "redirect_devmap", key: 1, flags: 0x20, value: 0, target: nil),
            Expectation(program: "redirect_devmap", key: 2, flags: 0x08, value: 4,
                        target: RedirectTarget(kind: .broadcast, map: "tx_port", mapType: .deviceMap, key: 0)),
            Expectation(program: "redirect_devmap", key: 2, flags: 0x18, value: 4,
                        target: RedirectTarget(kind: .broadcast, map: "tx_port", mapType: .deviceMap, key: 0, excludeIngress: true)),
            // devmap_hash
            Expectation(program: "redirect_devmap_hash", key: 3, flags: 0, value: 4,
                        target: RedirectTarget(kind: .deviceMap, map: "tx_hash", mapType: .deviceMapHash, key: 3, interface: 1)),
            Expectation(program: "redirect_devmap_hash", key: 1, flags: 2, value: 2, target: nil),
            // cpumap: no broadcast flags.
            Expectation(program: "redirect_cpu", key: 0, flags: 0, value: 4,
                        target: RedirectTarget(kind: .cpu, map: "cpus", mapType: .cpuMap, key: 0)),
            Expectation(program: "redirect_cpu", key: 1, flags: 2, value: 2, target: nil),
            Expectation(program: "redirect_cpu", key: 0, flags: 8, value: 0, target: nil),
            // xskmap left empty: the lookup fails and the fallback is XDP_PASS.
            Expectation(program: "redirect_xsk", key: 0, flags: 0, value: 2, target: nil),
            // Programs read devmap entries (struct bpf_devmap_val, prog id 0).
            Expectation(program: "devmap_lookup", key: 3, flags: 0, value: 1, target: nil),
            Expectation(program: "devmap_lookup", key: 1, flags: 0, value: 100, target: nil),
        ]
    }()

    @Test func targetsAndFallbacksOnEveryEngine() throws {
        let bytes = try Clang.object(Self.source)
        for engine in engines {
            let object = try LoadedObject(bytes: bytes)
            try Self.fill(object)
            for e in Self.expectations {
                let (value, target) = try Self.run(object, e.program, on: engine, Self.packet(key: e.key, flags: e.flags))
                #expect(value == e.value, "\(e) on \(engine.name)")
                #expect(target == e.target, "\(e) on \(engine.name)")
            }
        }
    }

    /// The AF_XDP pattern with a socket in the queue's slot; then the slot emptied.
    @Test func socketMapRedirectsToTheQueue() throws {
        let object = try LoadedObject(bytes: Clang.object(Self.source))
        let xsks = try #require(object.maps["xsks"])
        try xsks.update(key: le32(0), value: le32(42))
        for engine in engines {
            let (value, target) = try Self.run(object, "redirect_xsk", on: engine, Self.packet(key: 0, flags: 0))
            #expect(value == 4)
            #expect(target == RedirectTarget(kind: .socket, map: "xsks", mapType: .socketMap, key: 0))
        }
        try xsks.delete(key: le32(0))
        let (value, target) = try Self.run(object, "redirect_xsk", on: engines[0], Self.packet(key: 0, flags: 0))
        #expect(value == 2 && target == nil)
    }

    /// The last redirect call of a run decides; a failed lookup clears the target, so
    /// returning XDP_REDIRECT after it redirects nowhere (the kernel drops such a packet).
    @Test func lastCallWinsAndAFailedLookupClears() throws {
        let source = """
        struct { __uint(type, BPF_MAP_TYPE_DEVMAP); __uint(key_size, 4); __uint(value_size, 4); __uint(max_entries, 4); } ports SEC(".maps");
        SEC("xdp") int twice(struct xdp_md *ctx) {
            bpf_redirect(7, 0);
            return bpf_redirect_map(&ports, 2, 0);
        }
        SEC("xdp") int cleared(struct xdp_md *ctx) {
            bpf_redirect(7, 0);
            bpf_redirect_map(&ports, 3, 0);
            return XDP_REDIRECT;
        }
        SEC("xdp") int no_target(struct xdp_md *ctx) { return XDP_REDIRECT; }
        char LICENSE[] SEC("license") = "GPL";
        """
        let object = try LoadedObject(bytes: Clang.object(source: source, name: "redirect_order"))
        try #require(object.maps["ports"]).update(key: le32(2), value: le32(9))
        for engine in engines {
            let packet = Self.packet(key: 0, flags: 0)
            let twice = try Self.run(object, "twice", on: engine, packet)
            #expect(twice.0 == 4 && twice.1 == RedirectTarget(kind: .deviceMap, map: "ports", mapType: .deviceMap, key: 2, interface: 9))
            let cleared = try Self.run(object, "cleared", on: engine, packet)
            #expect(cleared.0 == 4 && cleared.1 == nil)
            let none = try Self.run(object, "no_target", on: engine, packet)
            #expect(none.0 == 4 && none.1 == nil)
        }
    }

    /// Calls the kernel's verifier refuses (`check_map_func_compatibility`) fail: updates
    /// and deletes are refused at load time like any write to a map read-only for programs;
    /// a cpumap lookup or a redirect through a map of another type stops the run with an
    /// error naming the helper and the map.
    @Test func callsTheKernelRefusesStopTheRun() throws {
        let source = """
        struct { __uint(type, BPF_MAP_TYPE_CPUMAP); __type(key, __u32); __type(value, struct bpf_cpumap_val); __uint(max_entries, 2); } cpus SEC(".maps");
        struct { __uint(type, BPF_MAP_TYPE_DEVMAP); __uint(key_size, 4); __uint(value_size, 4); __uint(max_entries, 2); } ports SEC(".maps");
        struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, __u32); __type(value, __u32); __uint(max_entries, 2); } plain SEC(".maps");
        SEC("xdp") int lookup_cpu(struct xdp_md *ctx) { __u32 k = 0; return bpf_map_lookup_elem(&cpus, &k) ? 1 : 2; }
        SEC("xdp") int update_devmap(struct xdp_md *ctx) { __u32 k = 0, v = 1; return bpf_map_update_elem(&ports, &k, &v, 0); }
        SEC("xdp") int delete_devmap(struct xdp_md *ctx) { __u32 k = 0; return bpf_map_delete_elem(&ports, &k); }
        SEC("xdp") int redirect_hash(struct xdp_md *ctx) { return bpf_redirect_map(&plain, 0, 0); }
        char LICENSE[] SEC("license") = "GPL";
        """
        let object = try LoadedObject(bytes: Clang.object(source: source, name: "redirect_refusals"))
        let cases = [("lookup_cpu", "bpf_map_lookup_elem", "'cpus'"), ("update_devmap", "write into map forbidden", "refused"),
                     ("delete_devmap", "write into map forbidden", "refused"), ("redirect_hash", "bpf_redirect_map", "'plain'")]
        for engine in engines {
            for (program, helper, map) in cases {
                do {
                    let (value, _) = try Self.run(object, program, on: engine, Self.packet(key: 0, flags: 0))
                    Issue.record("\(program) on \(engine.name) returned \(value) instead of failing")
                } catch {
                    let text = "\(error)"
                    #expect(text.contains(helper) && text.contains(map), "\(program) on \(engine.name): \(text)")
                }
            }
        }
    }

    /// The kernel's `BPF_MAP_CREATE` and update rules for the redirect maps.
    @Test func mapRules() throws {
        func definition(_ type: MapType, key: Int = 4, value: Int, max: Int = 4, flags: MapFlags = []) -> MapDefinition {
            MapDefinition(name: "m", type: type, keySize: key, valueSize: value, maxEntries: max, flags: flags)
        }
        for bad in [definition(.deviceMap, key: 8, value: 4), definition(.deviceMap, value: 12), definition(.deviceMapHash, value: 2),
                    definition(.cpuMap, value: 16), definition(.cpuMap, value: 4, flags: [.readOnly]), definition(.socketMap, value: 8),
                    definition(.socketMap, value: 4, max: 0)] {
            #expect(throws: MapError.self, "\(bad)") { try makeMap(bad) }
        }
        let devmap = try makeMap(definition(.deviceMap, value: 8))
        try devmap.update(key: le32(1), value: le32(5) + le32(0))
        #expect(try devmap.lookup(key: le32(1)) == le32(5) + le32(0))
        #expect(throws: MapError.keyExists) { try devmap.update(key: le32(1), value: le32(5) + le32(0), flags: .noExist) }
        #expect(throws: MapError.full) { try devmap.update(key: le32(4), value: le32(5) + le32(0)) }
        #expect(throws: MapError.self) { try devmap.update(key: le32(2), value: le32(5) + le32(3)) } // a devmap program
        try devmap.update(key: le32(1), value: le32(0) + le32(0))                               // ifindex 0 empties the slot
        #expect(throws: MapError.noSuchKey) { try devmap.lookup(key: le32(1)) }
        try devmap.delete(key: le32(3))                                                          // absent: still 0, as the kernel

        let hash = try makeMap(definition(.deviceMapHash, value: 4, max: 2))
        #expect(throws: MapError.self) { try hash.update(key: le32(9), value: le32(0)) }
        try hash.update(key: le32(9), value: le32(2))
        try hash.update(key: le32(1000), value: le32(3))
        #expect(throws: MapError.full) { try hash.update(key: le32(7), value: le32(4)) }
        #expect(throws: MapError.noSuchKey) { try hash.update(key: le32(7), value: le32(4), flags: .exist) }
        #expect(hash.keys() == [le32(9), le32(1000)])
        try hash.delete(key: le32(9))
        #expect(throws: MapError.noSuchKey) { try hash.delete(key: le32(9)) }
        try hash.update(key: le32(7), value: le32(4))

        let cpus = try makeMap(definition(.cpuMap, value: 4))
        #expect(throws: MapError.self) { try cpus.update(key: le32(0), value: le32(RedirectMap.maxQueueSize + 1)) }
        #expect(throws: MapError.self) { try cpus.update(key: le32(UInt32(CPUSlots.count)), value: le32(64)) }
        try cpus.update(key: le32(0), value: le32(64))
        #expect(try cpus.lookup(key: le32(0)) == le32(64))

        let xsks = try makeMap(definition(.socketMap, value: 4))
        try xsks.update(key: le32(1), value: le32(42))
        #expect(throws: MapError.self) { try xsks.lookup(key: le32(1)) }
        #expect(xsks.keys() == [le32(1)])
    }

    /// The same objects and entries in the kernel: the same return values (the kernel's
    /// test run returns the action; there are no devices to send to).
    @Test(.enabled(if: KernelObject.availability.available, "kernel comparison skipped: \(KernelObject.availability.reason)"))
    func sameReturnValuesAsTheKernel() throws {
        let path = try Clang.compile(Self.source)
        let kernel = try KernelObject(path: path)
        defer { kernel.close() }
        try kernel.update(map: "tx_port", key: le32(1), value: le32(1))
        try kernel.update(map: "tx_hash", key: le32(3), value: le32(1) + le32(0))
        try kernel.update(map: "cpus", key: le32(0), value: le32(64) + le32(0))
        let object = try LoadedObject(bytes: [UInt8](Data(contentsOf: path)))
        try Self.fill(object)
        var compared = 0
        for e in Self.expectations {
            let packet = Self.packet(key: e.key, flags: e.flags)
            let (kernelValue, _) = try kernel.run(e.program, input: packet)
            #expect(kernelValue == e.value, "\(e): the kernel returns \(kernelValue)")
            for engine in engines {
                #expect(try Self.run(object, e.program, on: engine, packet).0 == kernelValue, "\(e) on \(engine.name)")
            }
            compared += 1
        }
        #expect(compared == Self.expectations.count)
    }
}

extension KernelObject {
    /// Sets one entry of a pinned map (`bpftool map update`).
    func update(map name: String, key: [UInt8], value: [UInt8]) throws {
        let hex = { (bytes: [UInt8]) in bytes.map { String(format: "%02x", $0) } }
        let (status, _, errors) = try runProcess(Self.bpftool!, ["map", "update", "pinned", "\(mapDirectory)/\(name)", "key", "hex"] + hex(key)
            + ["value", "hex"] + hex(value))
        guard status == 0 else { throw KernelError(message: "bpftool map update \(name) failed: \(errors)") }
    }
}
