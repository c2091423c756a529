import BPFCommandTestSupport
import Foundation
import Testing

/// `--riscv-ext`: the RISC-V extensions the riscv64 JIT uses, on `run`,
/// `conformance`, `dump jited` and `bench`.
@Suite struct RISCVExtensionCommandTests {
    static func file(_ name: String) -> String { Paths.corpus.appendingPathComponent("tests/\(name).data").path }

    /// `be64` is `rev8` with Zbb and a byte-by-byte sequence without; `c`
    /// makes the image smaller.
    @Test func dumpJitedUsesTheExtensions() throws {
        let be64 = Self.file("be64")
        let plain = try bpfkit(["dump", "jited", be64, "--arch", "riscv64"])
        let zbb = try bpfkit(["dump", "jited", be64, "--arch", "riscv64", "--riscv-ext", "zbb"])
        let all = try bpfkit(["dump", "jited", be64, "--arch", "riscv64", "--riscv-ext", "c,zba,zbb"])
        #expect(plain.status == 0 && zbb.status == 0 && all.status == 0, "\(plain.stderr)\(zbb.stderr)\(all.stderr)")
        #expect(!plain.stdout.contains("rev8") && zbb.stdout.contains("rev8"), "\(zbb.stdout)")
        #expect(all.stdout.contains("c.") && !zbb.stdout.contains("c."), "\(all.stdout)")
    }

    /// The corpus files that swap, extend and zero-extend pass with every
    /// extension on, through `run` and `conformance`.
    @Test func runAndConformancePass() throws {
        let files = ["be16", "be32", "be64", "bswap16", "bswap32", "bswap64", "le16", "le32", "movsx1632-reg", "movsx832-reg",
                     "movsx864-reg", "movsx3264-reg", "rfc9669_movsx", "alu-arith", "add"]
            .map(Self.file).filter { FileManager.default.fileExists(atPath: $0) }
        #expect(files.count == 15)
        let result = try bpfkit(["conformance"] + files + ["--engine", "jit", "--arch", "riscv64", "--riscv-ext", "c,zba,zbb"])
        #expect(result.status == 0 && result.stdout.contains("\(files.count) passed, 0 failed"), "\(result)")
        let run = try bpfkit(["run", Self.file("be32"), "--engine", "jit", "--arch", "riscv64", "--riscv-ext", "zba,zbb"])
        let reference = try bpfkit(["run", Self.file("be32")])
        #expect(run.status == 0 && run.stdout == reference.stdout, "\(run), interpreter \(reference)")
    }

    @Test func badExtensionsAreRefusedClearly() throws {
        let unknown = try bpfkit(["run", Self.file("be16"), "--engine", "jit", "--arch", "riscv64", "--riscv-ext", "zba,zbc"])
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown RISC-V extension 'zbc'"), "\(unknown)")
        let other = try bpfkit(["conformance", Self.file("be16"), "--engine", "jit", "--arch", "arm64", "--riscv-ext", "zbb"])
        #expect(other.status != 0 && other.stderr.contains("--riscv-ext applies to the riscv64 JIT"), "\(other)")
        let matrix = try bpfkit(["conformance", Self.file("be16"), "--matrix", "--riscv-ext", "zbb"])
        #expect(matrix.status != 0 && matrix.stderr.contains("--riscv-ext"), "\(matrix)")
        #expect(!unknown.stderr.contains("ExitCode") && !other.stderr.contains("ExitCode"))
    }

    @Test func helpNamesTheOption() throws {
        for command in [["run"], ["conformance"], ["dump", "jited"], ["bench"]] {
            let help = try bpfkit(command + ["--help"])
            #expect(help.stdout.contains("--riscv-ext") && help.stdout.contains("zba"), "\(command)")
        }
    }
}
