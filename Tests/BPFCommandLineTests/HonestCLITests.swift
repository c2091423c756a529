import BPFCommandTestSupport
import Foundation
import Testing

/// What the command line offers: built backends only, its version, completion scripts.
@Suite struct HonestCLITests {
    @Test func helpListsOnlyBuiltBackends() throws {
        for command in [["run", "--help"], ["dump", "jited", "--help"], ["conformance", "--help"]] {
            let help = try bpfkit(command)
            #expect(help.status == 0)
            let words = help.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," }).joined(separator: " ")
            #expect(words.contains("x86_64 arm64 arm32 mips32le mips32be riscv64"), "\(command)")
        }
        let refused = try bpfkit(["run", "examples/fnv1a.s", "--engine", "jit", "--arch", "sparc64"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("unknown architecture 'sparc64' (choose one of x86_64, arm64, arm32, mips32le, mips32be, riscv64)"))
    }

    @Test func versionAndCompletion() throws {
        let version = try bpfkit(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.hasPrefix("bpfkit "))
        for shell in ["bash", "zsh", "fish"] {
            let script = try bpfkit(["--generate-completion-script", shell])
            #expect(script.status == 0)
            #expect(script.stdout.contains("mips32be"), "\(shell)")
            #expect(script.stdout.contains("riscv64"), "\(shell)")
        }
    }

    /// An out-of-bounds packet read in C names the packet offset and the C line, in
    /// run errors, `verify --log` and `dump xlated`.
    @Test func errorsShowTheCLine() throws {
        let source = try temporaryFile("short_packet.c", text: """
            typedef unsigned char __u8;
            typedef unsigned int __u32;
            struct xdp_md { __u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };
            __attribute__((section("xdp"), used)) int past_end(struct xdp_md *ctx)
            {
            	volatile __u8 *data = (void *)(long)ctx->data;
            	return data[100];
            }
            char LICENSE[] __attribute__((section("license"), used)) = "GPL";
            """)
        let packet = try temporaryFile("short_packet.bin", [UInt8](repeating: 0, count: 64))
        for engine in ["interpreter", "jit"] {
            let run = try bpfkit(["run", source, "--data-in", packet, "--engine", engine])
            #expect(run.status != 0)
            #expect(run.stderr.contains("read of 1 byte at packet offset 100, length 64\n  short_packet.c:7: return data[100];"), "\(run.stderr)")
        }
        let verify = try bpfkit(["verify", source, "--log"])
        #expect(verify.stdout.contains("short_packet.c:7: return data[100];"), "\(verify.stdout)")
        let dump = try bpfkit(["dump", "xlated", source])
        #expect(dump.stdout.contains("; short_packet.c:7: return data[100];"), "\(dump.stdout)")
        #expect(dump.stdout.components(separatedBy: "; short_packet.c:7:").count == 2, "one line per source line: \(dump.stdout)")
    }

    /// An error in a program entered by a tail call is told in that
    /// program's terms: its name, and its line for the pc (which is in its
    /// numbering; the entry's instruction 1 is the second half of a 64-bit
    /// load, whose line is the tail call's).
    @Test func errorsInATailCalledProgramShowItsLine() throws {
        let source = try temporaryFile("tail_error.c", text: """
            typedef unsigned char __u8;
            typedef unsigned int __u32;
            struct xdp_md { __u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };
            struct { int (*type)[3]; int (*max_entries)[2]; int (*key_size)[4]; int (*value_size)[4]; } jumps __attribute__((section(".maps"), used));
            static long (*bpf_tail_call)(void *ctx, void *map, __u32 index) = (void *)12;
            __attribute__((section("xdp"), used)) int target(struct xdp_md *ctx)
            {
            	volatile __u8 *data = (void *)(long)ctx->data;
            	return data[100];
            }
            __attribute__((section("xdp"), used)) int entry(struct xdp_md *ctx)
            {
            	bpf_tail_call(ctx, &jumps, 0);
            	return 7;
            }
            char LICENSE[] __attribute__((section("license"), used)) = "GPL";
            """)
        let packet = try temporaryFile("tail_error.bin", [UInt8](repeating: 0, count: 64))
        for engine in [["--engine", "interpreter"], ["--engine", "jit"], ["--engine", "jit", "--harden"]] {
            let run = try bpfkit(["run", source, "--program", "entry", "--data-in", packet, "--tail-call", "jumps:0=target"] + engine)
            #expect(run.status != 0)
            #expect(run.stderr.contains("in tail-called program 'target': instruction 1: read of 1 byte at packet offset 100, length 64\n"
                                        + "  tail_error.c:9: return data[100];"), "\(engine): \(run.stderr)")
            #expect(!run.stderr.contains("bpf_tail_call(ctx"), "\(engine): the entry's line: \(run.stderr)")
        }
    }

    @Test func unsupportedHelperIsNamedInRunErrors() throws {
        let source = try temporaryFile("pid.s", text: "call 14\nexit\n")
        let result = try bpfkit(["run", source, "--no-verify"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("bpf_get_current_pid_tgid (14) is not supported by BPFKit"), "\(result.stderr)")
    }
}

/// The README's usage block is what `bpfkit --help` and each command's `--help` print.
@Suite struct ReadmeUsageTests {
    /// The fenced block after `<!-- NAME -->` in README.md.
    static func block(_ name: String) throws -> [String] {
        let readme = try String(contentsOf: Paths.root.appendingPathComponent("README.md"), encoding: .utf8)
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let marker = try #require(lines.firstIndex(of: "<!-- \(name) -->"), "README.md has no <!-- \(name) --> block")
        let body = lines[(marker + 2)...]
        return Array(body.prefix { !$0.hasPrefix("```") })
    }

    @Test func helpBlockMatches() throws {
        let help = try bpfkit(["--help"])
        let expected = ["$ bpfkit --help"] + help.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLast()
        #expect(try Self.block("bpfkit-help") == expected, "README.md's usage block should read:\n\(expected.joined(separator: "\n"))")
    }

    @Test func synopsesMatch() throws {
        let commands = [["run"], ["asm"], ["disasm"], ["dump", "xlated"], ["dump", "jited"], ["conformance"],
                        ["conformance-plugin"], ["verify"], ["bench"], ["filter"]]
        var expected: [String] = []
        for command in commands {
            let help = try bpfkit(command + ["--help"]).stdout.split(separator: "\n", omittingEmptySubsequences: false)
            let usage = help.drop { !$0.hasPrefix("USAGE: ") }.prefix { !$0.isEmpty }
            expected.append(usage.joined(separator: "\n").replacingOccurrences(of: "USAGE: ", with: ""))
        }
        #expect(try Self.block("bpfkit-usage") == expected, "README.md's synopses should read:\n\(expected.joined(separator: "\n"))")
    }
}
