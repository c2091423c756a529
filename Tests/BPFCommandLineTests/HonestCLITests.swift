import Foundation
import Testing

/// What the command line offers: built backends only, its version, completion scripts.
@Suite struct HonestCLITests {
    @Test func helpListsOnlyBuiltBackends() throws {
        for command in [["run", "--help"], ["dump", "jited", "--help"], ["conformance", "--help"]] {
            let help = try bpfkit(command)
            #expect(help.status == 0)
            let words = help.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," }).joined(separator: " ")
            #expect(words.contains("x86_64 arm64 arm32 mips32le mips32be"), "\(command)")
            #expect(!help.stdout.contains("riscv"), "\(command)")
        }
        let refused = try bpfkit(["run", "examples/fnv1a.s", "--engine", "jit", "--arch", "riscv64"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("unknown architecture 'riscv64' (choose one of x86_64, arm64, arm32, mips32le, mips32be)"))
    }

    @Test func versionAndCompletion() throws {
        let version = try bpfkit(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.hasPrefix("bpfkit "))
        for shell in ["bash", "zsh", "fish"] {
            let script = try bpfkit(["--generate-completion-script", shell])
            #expect(script.status == 0)
            #expect(script.stdout.contains("mips32be"), "\(shell)")
            #expect(!script.stdout.contains("riscv"), "\(shell)")
        }
    }

    @Test func unsupportedHelperIsNamedInRunErrors() throws {
        let source = try temporaryFile("pid.s", text: "call 14\nexit\n")
        let result = try bpfkit(["run", source, "--no-verify"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("bpf_get_current_pid_tgid (14) is not supported by BPFKit"), "\(result.stderr)")
    }
}
