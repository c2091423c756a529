import BPFCommandTestSupport
import Foundation
import Testing

@Suite struct RunCommandTests {
    /// FNV-1a of "hello", computed independently (Python: fnv1a_64(b"hello")).
    @Test func exampleComputesFNV1a() throws {
        let result = try bpfkit(["run", "examples/fnv1a.s", "--data-in", "examples/hello.txt"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "0xa430d84680aabd0b\n")
    }

    @Test func jsonOutput() throws {
        let result = try bpfkit(["run", "examples/fnv1a.s", "--mem", "68 65 6c 6c 6f", "--json", "--repeat", "3"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect((object?["retval"] as? NSNumber)?.uint64Value == 0xa430_d846_80aa_bd0b)
        #expect(object?["duration_ns"] is NSNumber)
        #expect(object?["ns_per_run"] is NSNumber)
        #expect((object?["repeat"] as? NSNumber)?.intValue == 3)
        #expect(result.stdout.split(separator: "\n").count == 1)
    }

    @Test func dataOutWritesTheMemoryAsLeft() throws {
        let program = try temporaryFile("store.s", text: "stb [%r1+1], 0x7f\nmov %r0, 0\nexit\n")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-out-\(getpid()).bin").path
        let result = try bpfkit(["run", program, "--mem", "01 02 03", "--data-out", out])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data([0x01, 0x7f, 0x03]))
    }

    @Test func corpusFileCarriesItsMemory() throws {
        let result = try bpfkit(["run", Paths.corpus.appendingPathComponent("tests/mem-len.data").path])
        #expect(result.stdout == "0x8\n", "\(result.stderr)")
    }

    /// The upstream plugin contract: program hex on stdin, memory hex argument, r0 in hex.
    @Test func conformancePlugin() throws {
        // ldxh r0, [r1+2]; exit
        let result = try bpfkit(["conformance-plugin", "11 22 33 44"], stdin: "69 10 02 00 00 00 00 00 95 00 00 00 00 00 00 00")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "4433\n")
    }

    @Test func asmThenDisasmRoundTrips() throws {
        let bin = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-fnv-\(getpid()).bin").path
        #expect(try bpfkit(["asm", "examples/fnv1a.s", "-o", bin]).status == 0)
        let text = try bpfkit(["disasm", bin])
        let again = try temporaryFile("again.s", text: text.stdout)
        let bin2 = bin + "2.bin"
        #expect(try bpfkit(["asm", again, "-o", bin2]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: bin)) == Data(contentsOf: URL(fileURLWithPath: bin2)))
        let llvm = try bpfkit(["disasm", bin, "--style", "llvm"])
        #expect(llvm.stdout.contains("r0 ^= r5"), "\(llvm.stdout)")
    }
}
