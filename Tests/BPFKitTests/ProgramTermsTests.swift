import Foundation
import Testing
import BPFKit

/// Run errors, helpers and architectures told in the program's terms, not the host's.
@Suite struct ProgramTermsTests {
    static let prelude = """
        typedef unsigned char __u8;
        typedef unsigned int __u32;
        typedef unsigned long long __u64;
        #define SEC(name) __attribute__((section(name), used))
        struct xdp_md { __u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };
        static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
        static __u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
        char LICENSE[] SEC("license") = "GPL";

        """

    /// Compiles C (with the prelude) and loads it unverified, so every access stays checked at run time.
    static func load(_ source: String, type: (any ProgramType)? = nil) throws -> ProgramFile {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-terms-\(UUID().uuidString).c").path
        try (prelude + source).write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var request = LoadRequest()
        request.programType = type
        request.verify = false
        return try ProgramFile.load(path: path, request)
    }

    static var engines: [EngineKind] { Architecture.host == nil ? [.interpreter] : [.interpreter, .jit] }

    /// A read past a short packet names the packet offset and length, on every engine.
    @Test func packetOverreadNamesThePacketOffset() throws {
        let file = try Self.load("""
            SEC("xdp") int past_end(struct xdp_md *ctx) {
                volatile __u8 *data = (void *)(long)ctx->data;
                return data[100];
            }
            """)
        for engine in Self.engines {
            let program = try LoadedProgram(file, engine: engine)
            let error = #expect(throws: RunError.self) { try program.run(input: [UInt8](repeating: 0, count: 64)) }
            #expect(error?.description.contains("read of 1 byte at packet offset 100, length 64") == true, "\(engine): \(String(describing: error))")
            #expect(error?.description.contains("0x") == false, "\(engine): \(String(describing: error))")
            // The C line, from the object's BTF line information (after the 8-line prelude).
            #expect(error?.sourceLine?.text == "return data[100];", "\(engine): \(String(describing: error))")
            #expect(error?.sourceLine?.line == 11)
            #expect(error?.description.contains(".c:11: return data[100];") == true)
        }
    }

    /// A read past a map value names the map, the offset in its value and the value size.
    @Test func mapValueOverreadNamesTheMap() throws {
        let file = try Self.load("""
            struct { int (*type)[2]; __u32 *key; __u64 *value; int (*max_entries)[4]; } counts SEC(".maps");
            SEC("xdp") int over(struct xdp_md *ctx) {
                __u32 key = 3;   /* the last element: 12 is past the map's memory */
                volatile __u8 *value = bpf_map_lookup_elem(&counts, &key);
                if (!value) return 0;
                return value[12];
            }
            """)
        try #require(file.map(named: "counts")).update(key: [3, 0, 0, 0], value: [UInt8](repeating: 1, count: 8))
        for engine in Self.engines {
            let program = try LoadedProgram(file, engine: engine)
            let error = #expect(throws: RunError.self) { try program.run(input: [UInt8](repeating: 0, count: 64)) }
            #expect(error?.description.contains("map value 'counts' offset 12, size 8") == true, "\(engine): \(String(describing: error))")
        }
    }

    /// An xdp program run as `mem` reads `ctx->data` from the input bytes and
    /// dereferences it: the error suggests `--type xdp`.
    @Test func contextUnderMemGetsATypeHint() throws {
        let file = try Self.load("""
            SEC("xdp") int first(struct xdp_md *ctx) {
                volatile __u8 *data = (void *)(long)ctx->data;
                return data[0];
            }
            """, type: .mem)
        let program = try LoadedProgram(file, engine: .interpreter)
        let error = #expect(throws: RunError.self) { try program.run(input: [UInt8](repeating: 0, count: 64)) }
        #expect(error?.hint?.contains("--type xdp") == true, "\(String(describing: error))")
        // The same program as xdp runs.
        let xdp = try LoadedProgram(try Self.load("""
            SEC("xdp") int first(struct xdp_md *ctx) {
                volatile __u8 *data = (void *)(long)ctx->data;
                return data[0];
            }
            """, type: .xdp))
        #expect(try xdp.run(input: [9] + [UInt8](repeating: 0, count: 63)).returnValue == 9)
    }

    /// A program that reads r1 as plain memory, loaded as xdp, is refused
    /// with a hint about `--type mem`; as `mem` it runs.
    @Test func memoryUnderXDPGetsATypeHint() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-terms-\(UUID().uuidString).s").path
        try "ldxb %r0, [%r1+60]\nexit\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            _ = try ProgramFile.load(path: path, LoadRequest(programType: .xdp))
        } throws: { error in
            "\(error)".contains("outside struct xdp_md") && "\(error)".contains("hint: ") && "\(error)".contains("--type mem")
        }
        let mem = try LoadedProgram(try ProgramFile.load(path: path, LoadRequest(programType: .mem)))
        #expect(try mem.run(input: [UInt8](repeating: 0, count: 60) + [5]).returnValue == 5)
    }

    /// A kernel helper BPFKit lacks is named, at load time and at run time.
    @Test func helpersAreNamed() throws {
        #expect(ExecutionError.unknownHelper(pc: 3, id: 14).description == "instruction 3: bpf_get_current_pid_tgid (14) is not supported by BPFKit")
        #expect(ExecutionError.unknownHelper(pc: 3, id: 9999).description == "instruction 3: call to unknown helper 9999")
        #expect(ExecutionError.helperFailed(pc: 1, id: 1, message: "x").description == "instruction 1: bpf_map_lookup_elem (1) failed: x")
        #expect(KernelHelperNames.name(of: 0) == nil)
        #expect(KernelHelperNames.name(of: 6) == "bpf_trace_printk")
        #expect(KernelHelperNames.name(of: 209) == "bpf_user_ringbuf_drain")

        #expect {
            _ = try Self.load("""
                SEC("xdp") int pid(struct xdp_md *ctx) { return bpf_get_current_pid_tgid() & 1; }
                """)
        } throws: { error in
            "\(error)".contains("bpf_get_current_pid_tgid (14) is not supported by BPFKit")
        }
    }

    /// Listings name helper calls in a comment, and still assemble to the same bytes.
    @Test func disassemblyNamesHelpers() throws {
        let program = try Assembler.assemble("call 14\ncall 1\nmov %r0, 0\nexit")
        let text = Disassembler.disassemble(program, style: .conformance, comments: true)
        #expect(text.contains("call 14  # bpf_get_current_pid_tgid"))
        #expect(text.contains("call 1  # bpf_map_lookup_elem"))
        #expect(try Assembler.assemble(text).instructions == program.instructions)
        #expect(Disassembler.disassemble(program, style: .conformance) == text.replacingOccurrences(of: "  # bpf_get_current_pid_tgid", with: "")
            .replacingOccurrences(of: "  # bpf_map_lookup_elem", with: ""))
    }

    /// Only architectures with a built backend are offered; each backend registers its own.
    @Test func onlyBuiltBackendsAreOffered() throws {
        // Every architecture `JITArchitecture` names has a backend now; each is offered once.
        #expect(EngineCatalog.builtArchitectures == [.x86_64, .arm64, .arm32, .mips32le, .mips32be, .riscv64])
        // (No emulator here: this target runs in the process whose W^X the pack's tests inspect.)
    }
}
