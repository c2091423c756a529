import BPFELF
import BPFHelpers
import BPFInterpreter
import BPFLoader
import BPFMaps
import BPFRuntime
import Foundation
import Testing

/// Bad input of every kind gives a typed error that names the culprit.
@Suite(.enabled(if: Clang.available, "clang is needed to build the test objects"))
struct LoaderErrorTests {
    static let license = "\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n"

    func loadError(_ body: () throws -> Void) -> ObjectLoadError? {
        do { try body(); return nil } catch let error as ObjectLoadError { return error } catch { Issue.record("untyped \(error)"); return nil }
    }

    @Test func unknownHelperIsALoadTimeErrorNamingTheInstruction() throws {
        let bytes = try Clang.object(source: """
            static long (*bpf_made_up)(int) = (void *)9999;
            SEC("xdp") int p(struct xdp_md *ctx) { return bpf_made_up(1) ? XDP_PASS : XDP_DROP; }
            """ + Self.license, name: "unknown_helper")
        let error = loadError { _ = try LoadedObject(bytes: bytes).program() }
        guard case .program(let name, .unknownHelper(let pc, 9999)) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(name == "p" && pc >= 0)
        #expect(error!.description.contains("instruction \(pc): call to unknown helper 9999"))
    }

    @Test func contextWritesAreLoadTimeErrors() throws {
        let bytes = try Clang.object(source: """
            SEC("xdp") int w(struct xdp_md *ctx) { ctx->rx_queue_index = 3; return XDP_PASS; }
            SEC("xdp") int narrow(struct xdp_md *ctx) { return *(volatile __u16 *)&ctx->ingress_ifindex; }
            SEC("xdp") int egress(struct xdp_md *ctx) { return ctx->egress_ifindex; }
            SEC("xdp") int beyond(struct xdp_md *ctx) { return *((volatile __u32 *)ctx + 7); }
            """ + Self.license, name: "context_errors")
        let object = try LoadedObject(bytes: bytes)
        for (name, phrase) in [("w", "write to xdp_md.rx_queue_index"), ("narrow", "2-byte read at offset 12"),
                               ("egress", "egress_ifindex is only available to devmap"), ("beyond", "outside struct xdp_md")] {
            let error = loadError { _ = try object.program(named: name) }
            guard case .program(name, .contextAccess(let access)) = error else { Issue.record("\(name): \(String(describing: error))"); continue }
            #expect(error!.description.contains("instruction \(access.pc): ") && error!.description.contains(phrase), "\(error!)")
        }
    }

    @Test func readingPastThePacketIsARunTimeErrorOnEveryEngine() throws {
        let bytes = try Clang.object(source: """
            SEC("xdp") int past(struct xdp_md *ctx) {
                volatile __u8 *data = (void *)(long)ctx->data;
                return data[100];
            }
            """ + Self.license, name: "past_end")
        let program = try LoadedObject(bytes: bytes).program()
        for engine in engines {
            #expect(try run(program, on: engine, input: Packets.bytes(101)).0 == UInt64(Packets.bytes(101)[100]))
            do {
                _ = try run(program, on: engine, input: Packets.bytes(100))
                Issue.record("read past the packet succeeded on \(engine.name)")
            } catch let error as ExecutionError {
                guard case .outOfBounds(_, _, 1, false) = error else { Issue.record("\(error)"); continue }
                #expect(error.description.contains("read of 1 bytes"))
            }
        }
    }

    @Test func packetEndsFollowTheAdjustHelpersAtRunTime() throws {
        let bytes = try Clang.object(source: """
            SEC("xdp") int shrink_then_read(struct xdp_md *ctx) {
                volatile __u8 *data = (void *)(long)ctx->data;
                __u8 before = data[40];
                if (bpf_xdp_adjust_tail(ctx, -30)) return XDP_ABORTED;
                return before + data[40];   /* byte 40 is gone now */
            }
            """ + Self.license, name: "shrink_read")
        let program = try LoadedObject(bytes: bytes).program()
        for engine in engines {
            #expect(throws: ExecutionError.self) { try run(program, on: engine, input: Packets.bytes(60)) }
        }
    }

    @Test func nonsensicalMapDefinitionsNameTheMap() throws {
        let cases: [(String, String)] = [
            ("__uint(type, BPF_MAP_TYPE_HASH); __uint(key_size, 0); __uint(value_size, 8); __uint(max_entries, 4);", "key size must be at least 1"),
            ("__uint(type, BPF_MAP_TYPE_HASH); __type(key, __u32); __type(value, __u64); __uint(max_entries, 0);", "max_entries must be at least 1"),
            ("__uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __uint(value_size, 4194304); __uint(max_entries, 1);", "value size 4194304 exceeds"),
            ("__uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u64); __type(value, __u64); __uint(max_entries, 4);", "keys are 4-byte indices"),
            ("__uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1000);", "must be a power of 2"),
        ]
        for (i, (fields, phrase)) in cases.enumerated() {
            let bytes = try Clang.object(source: "struct { \(fields) } bad_map SEC(\".maps\");\nSEC(\"xdp\") int p(struct xdp_md *c) { return XDP_PASS; }" + Self.license,
                                         name: "bad_map_\(i)")
            let error = loadError { _ = try LoadedObject(bytes: bytes) }
            guard case .map(let name, .invalidDefinition) = error else { Issue.record("\(fields): \(String(describing: error))"); continue }
            #expect(name == "bad_map" && error!.description.contains("map 'bad_map'") && error!.description.contains(phrase), "\(error!)")
        }
    }

    /// A map of a type BPFKit lacks is no object error: only the programs that use it fail.
    @Test func unsupportedMapTypesFailOnlyTheProgramsThatUseThem() throws {
        let bytes = try Clang.object(source: """
            struct { __uint(type, BPF_MAP_TYPE_STACK_TRACE); __uint(key_size, 4); __uint(value_size, 8); __uint(max_entries, 4); } odd SEC(".maps");
            SEC("xdp") int p(struct xdp_md *c) { return XDP_PASS; }
            SEC("xdp") int q(struct xdp_md *c) { __u32 k = 0; return bpf_map_lookup_elem(&odd, &k) ? XDP_PASS : XDP_DROP; }
            """ + Self.license, name: "unsupported_map")
        let object = try LoadedObject(bytes: bytes)
        _ = try object.program(named: "p")
        let error = loadError { _ = try object.program(named: "q") }
        guard case .unloadable("q", "xdp", .unsupportedMap("odd", 7)) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(error!.description.contains("program 'q'") && error!.description.contains("map 'odd' has type 7 (stack_trace)"), "\(error!)")
    }

    @Test func contradictoryAndUnsupportedDefinitionsAreObjectErrors() throws {
        let cases: [(String, String)] = [
            ("__uint(type, BPF_MAP_TYPE_HASH); __type(key, __u32); __uint(key_size, 8); __type(value, __u64); __uint(max_entries, 4);", "key size given twice and differently (4 and 8)"),
            ("__type(key, __u32); __type(value, __u64); __uint(max_entries, 4);", "no map type"),
        ]
        for (i, (fields, phrase)) in cases.enumerated() {
            let bytes = try Clang.object(source: "struct { \(fields) } odd SEC(\".maps\");\nSEC(\"xdp\") int p(struct xdp_md *c) { return XDP_PASS; }" + Self.license,
                                         name: "odd_map_\(i)")
            let error = loadError { _ = try LoadedObject(bytes: bytes) }
            guard case .object(.badMap("odd", _)) = error else { Issue.record("\(fields): \(String(describing: error))"); continue }
            #expect(error!.description.contains(phrase), "\(error!)")
        }
    }

    @Test func mapsWithoutBTFNeedDebugInfo() throws {
        let bytes = try Clang.object(source: """
            struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u32); __uint(max_entries, 1); } m SEC(".maps");
            SEC("xdp") int p(struct xdp_md *c) { __u32 k = 0; return bpf_map_lookup_elem(&m, &k) ? XDP_PASS : XDP_DROP; }
            """ + Self.license, name: "no_btf", debugInfo: false)
        #expect(throws: ELFError.missingSection(".BTF", reason: "maps in '.maps' are described by BTF; compile with -g")) {
            _ = try ObjectFile(bytes: bytes)
        }
    }

    @Test func unknownRelocationTypeIsNamed() throws {
        var bytes = try Clang.object(examplesDirectory.appendingPathComponent("xdp_proto_count.c"))
        // Find `.relxdp` and give its first entry type 77.
        let relocation = try #require(CorruptedObjectTests.sections(bytes).first { $0.0 == ".relxdp" })
        bytes[relocation.1 + 8] = 77
        #expect(throws: ELFError.unknownRelocationType(section: "xdp", offset: Int(bytes.le64(at: relocation.1)), type: 77)) {
            _ = try ObjectFile(bytes: bytes)
        }
        // R_BPF_64_ABS32 on an instruction: the program cannot be linked; the object still parses.
        bytes[relocation.1 + 8] = 3
        let object = try ObjectFile(bytes: bytes)
        #expect(object.programs.isEmpty && object.unloadablePrograms.count == 1)
        guard case .badRelocation(section: "xdp", _, _) = object.unloadablePrograms.first?.reason else {
            Issue.record("\(object.unloadablePrograms)"); return
        }
    }

    @Test func notBPFAndTruncatedFiles() throws {
        #expect(throws: ELFError.notELF("no ELF magic")) { _ = try ObjectFile(bytes: Array("not an object at all".utf8)) }
        var bytes = try Clang.object(examplesDirectory.appendingPathComponent("xdp_swap_mac.c"))
        #expect(throws: ELFError.self) { _ = try ObjectFile(bytes: Array(bytes.prefix(200))) }
        bytes[18] = 62 // EM_X86_64
        #expect(throws: ELFError.wrongMachine(62)) { _ = try ObjectFile(bytes: bytes) }
    }

    @Test func bigEndianObjectsLoadForBigEndianEnginesOnly() throws {
        let big = try ObjectFile(bytes: Clang.object(examplesDirectory.appendingPathComponent("xdp_proto_count.c"), target: "bpfeb"))
        let little = try ObjectFile(bytes: Clang.object(examplesDirectory.appendingPathComponent("xdp_proto_count.c"), target: "bpfel"))
        #expect(big.byteOrder == .big && little.byteOrder == .little)
        #expect(big.programs.map(\.name) == little.programs.map(\.name))
        #expect(big.maps.map(\.definition) == little.maps.map(\.definition))
        // Without byte-order-dependent code, both targets compile to the same instructions.
        let source = testProgramsDirectory.appendingPathComponent("context_fields.c")
        let bigFields = try ObjectFile(bytes: Clang.object(source, target: "bpfeb"))
        let littleFields = try ObjectFile(bytes: Clang.object(source, target: "bpfel"))
        #expect(bigFields.programs.map(\.program) == littleFields.programs.map(\.program))
        // The object loads; its programs are for big-endian engines only.
        let program = try LoadedObject(big).program()
        #expect(program.byteOrder == .big)
        #expect(try LoadedObject(little).program().byteOrder == .little)
        try program.checkByteOrder(.big, engine: "big-endian interpreter")
        let error = loadError { try program.checkByteOrder(.little, engine: "x86_64 JIT") }
        guard case .byteOrder(.big, .little, "x86_64 JIT") = error else { Issue.record("\(String(describing: error))"); return }
        #expect(error!.description.contains("compiled for big-endian BPF (-target bpfeb) but the x86_64 JIT runs little-endian"))
    }

    @Test func programSelectionAndTypes() throws {
        let object = try LoadedObject(bytes: Clang.object(testProgramsDirectory.appendingPathComponent("adjust_limits.c")))
        #expect(Set(object.object.programs(inSection: "xdp").map(\.name)) == ["adjust_limits", "regrow", "load_store"])
        #expect(try object.program(named: "regrow").name == "regrow")
        guard case .programSelection(let why) = loadError({ _ = try object.program(named: "nope") }) else { Issue.record("no error"); return }
        #expect(why.contains("adjust_limits (section xdp)"))
        let mem = loadError { _ = try object.program(named: "regrow", type: ProgramTypes.mem) }
        guard case .program("regrow", .helperNotAllowed(_, "bpf_xdp_adjust_tail", "mem")) = mem else { Issue.record("\(String(describing: mem))"); return }
        let program = try object.program(named: "regrow")
        guard case .runInput(.inputTooSmall) = loadError({ _ = try program.makeRun(input: [1, 2, 3]) }) else { Issue.record("small input accepted"); return }
        guard case .runInput(.inputTooLarge) = loadError({ _ = try program.makeRun(input: Array(repeating: 0, count: 4000)) }) else { Issue.record("large input accepted"); return }
    }

    @Test func legacyMapsSection() throws {
        let bytes = try Clang.object(source: """
            struct bpf_map_def { unsigned int type, key_size, value_size, max_entries, map_flags; };
            struct bpf_map_def SEC("maps") legacy_counts = { .type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 8, .max_entries = 3 };
            struct bpf_map_def SEC("maps") legacy_hash = { .type = BPF_MAP_TYPE_HASH, .key_size = 2, .value_size = 4, .max_entries = 9 };
            SEC("xdp") int p(struct xdp_md *c) {
                __u32 k = 2; __u64 *v = bpf_map_lookup_elem(&legacy_counts, &k);
                if (v) *v += 5;
                return XDP_PASS;
            }
            """ + Self.license, name: "legacy_maps")
        let object = try LoadedObject(bytes: bytes)
        #expect(object.object.maps.map(\.definition) == [
            MapDefinition(name: "legacy_counts", type: .array, keySize: 4, valueSize: 8, maxEntries: 3),
            MapDefinition(name: "legacy_hash", type: .hash, keySize: 2, valueSize: 4, maxEntries: 9),
        ])
        for engine in engines { _ = try run(object.program(), on: engine, input: Packets.bytes(20)) }
        #expect(try object.map(named: "legacy_counts")?.lookup(key: le32(2)) == le64(5 * UInt64(engines.count)))
    }
}
