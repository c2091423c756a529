import BPFCommandTestSupport
import Foundation
import Testing

/// Bad input gets a clear error and a non-zero exit, never a crash or a hang.
@Suite struct BadInputTests {
    private func expectError(_ arguments: [String], mentioning fragment: String, stdin: String? = nil) throws {
        let result = try bpfkit(arguments, stdin: stdin)
        #expect(result.status == 1, "exit \(result.status) for \(arguments): \(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("error:"), "\(result.stderr)")
        #expect(result.stderr.contains(fragment), "expected '\(fragment)' in: \(result.stderr)")
    }

    @Test func truncatedBytecode() throws {
        let path = try temporaryFile("truncated.bin", [0xb7, 0, 0, 0, 1, 0, 0])
        try expectError(["run", path], mentioning: "not a multiple of the 8-byte")
    }

    @Test func unknownOpcode() throws {
        let path = try temporaryFile("unknown.bin", [0xb7, 0, 0, 0, 1, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0])
        try expectError(["run", path], mentioning: "instruction 1: unknown opcode 0xff")
    }

    @Test func jumpOutsideProgram() throws {
        let path = try temporaryFile("jump.s", text: "ja +5\nexit\n")
        try expectError(["run", path], mentioning: "instruction 0: jump target 6")
    }

    @Test func fallingOffTheEnd() throws {
        let path = try temporaryFile("falloff.s", text: "mov %r0, 1\nadd %r0, 1\n")
        try expectError(["run", path], mentioning: "fall off the end")
    }

    @Test func malformedAssemblyNamesTheLine() throws {
        let path = try temporaryFile("bad.s", text: "mov %r0, 1\n\nfrobnicate %r0\nexit\n")
        try expectError(["run", path], mentioning: "line 3")
    }

    @Test func badMemHex() throws {
        let path = try temporaryFile("ok.s", text: "mov %r0, 1\nexit\n")
        try expectError(["run", path, "--mem", "00 1g"], mentioning: "'g' at character 5")
        try expectError(["run", path, "--mem", "001"], mentioning: "odd number of hex digits")
    }

    @Test func runawayProgramStopped() throws {
        let path = try temporaryFile("loop.s", text: "mov %r0, 0\nloop:\nadd %r0, 1\nja loop\n")
        try expectError(["run", path, "--instruction-limit", "100000"], mentioning: "instruction limit")
    }

    @Test func outOfBoundsAccessNamesTheInstruction() throws {
        let path = try temporaryFile("oob.s", text: "mov %r0, 0\nldxdw %r0, [%r1+8]\nexit\n")
        try expectError(["run", path, "--mem", "00 01 02 03"], mentioning: "instruction 1")
    }

    @Test func unknownEngineArchitectureAndFiles() throws {
        let path = try temporaryFile("ok2.s", text: "mov %r0, 1\nexit\n")
        try expectError(["run", path, "--engine", "warp"], mentioning: "unknown engine 'warp'")
        try expectError(["run", path, "--engine", "jit", "--arch", "vax"], mentioning: "unknown architecture 'vax'")
        try expectError(["run", "/nonexistent/x.s"], mentioning: "cannot read")
        try expectError(["run", path + ".txt"], mentioning: "unknown program format")
        try expectError(["run", path, "--repeat", "0"], mentioning: "--repeat must be at least 1")
    }

    @Test func pluginRejectsBadProgram() throws {
        try expectError(["conformance-plugin", ""], mentioning: "unknown opcode", stdin: "ff 00 00 00 00 00 00 00")
        try expectError(["conformance-plugin", "zz"], mentioning: "memory argument", stdin: "95 00 00 00 00 00 00 00")
    }
}
