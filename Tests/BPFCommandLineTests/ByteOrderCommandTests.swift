import BPFCommandTestSupport
import Foundation
import Testing

/// `--byte-order` and the MIPS32 targets on the command line.
@Suite struct ByteOrderCommandTests {
    static let ldxw = Paths.root.appendingPathComponent("Tests/Fixtures/conformance/tests/ldxw.data").path

    /// The file's memory starts 11 22 33 44: read big-endian by the
    /// big-endian interpreter and mips32be, little-endian otherwise.
    @Test func runReadsMemoryInTheChosenOrder() throws {
        for (arguments, expected) in [(["--engine", "interpreter", "--byte-order", "big"], "0x11223344"),
                                      (["--engine", "interpreter"], "0x44332211"),
                                      (["--engine", "jit", "--arch", "mips32be"], "0x11223344"),
                                      (["--engine", "jit", "--arch", "mips32le"], "0x44332211")] {
            let result = try bpfkit(["run", Self.ldxw] + arguments)
            #expect(result.status == 0 && result.stdout.contains(expected), "\(arguments): \(result)")
        }
    }

    @Test func badOrdersAreRefusedClearly() throws {
        let unknown = try bpfkit(["run", Self.ldxw, "--byte-order", "middle"])
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown byte order 'middle'"))
        #expect(!unknown.stderr.contains("ExitCode"))
        let mismatch = try bpfkit(["run", Self.ldxw, "--engine", "jit", "--arch", "mips32le", "--byte-order", "big"])
        #expect(mismatch.status != 0 && mismatch.stderr.contains("runs little-endian"))
    }
}
