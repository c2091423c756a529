import BPFCommandTestSupport
import Foundation
import Testing

/// `--unprivileged` on `bpfkit run` and `bpfkit verify`.
@Suite struct UnprivilegedCommandTests {
    @Test func pointerLeaksAreRefusedNamingTheInstruction() throws {
        // r0 = r10: hands the host's stack address to the caller.
        let leak = try temporaryFile("leak.s", text: "mov %r0, 0\nmov %r0, %r10\nexit\n")
        let verify = try bpfkit(["verify", leak, "--type", "xdp", "--unprivileged"])
        #expect(verify.status != 0)
        #expect(verify.stderr.contains("refused: instruction 2: r0 at exit leaks a pointer"), "\(verify.stderr)")
        let run = try bpfkit(["run", leak, "--type", "xdp", "--unprivileged", "--mem", String(repeating: "00 ", count: 14)])
        #expect(run.status != 0 && run.stderr.contains("instruction 2"), "\(run.stderr)")
        // Trusted hosts may run it.
        let trusted = try bpfkit(["run", leak, "--type", "xdp", "--mem", String(repeating: "00 ", count: 14)])
        #expect(trusted.status == 0, "\(trusted.stderr)")
    }

    @Test func verificationIsMandatory() throws {
        let fine = try temporaryFile("fine.s", text: "mov %r0, 2\nexit\n")
        let run = try bpfkit(["run", fine, "--type", "xdp", "--unprivileged", "--no-verify", "--mem", String(repeating: "00 ", count: 14)])
        #expect(run.status != 0 && run.stderr.contains("--unprivileged requires the verifier"), "\(run.stderr)")
        let verified = try bpfkit(["run", fine, "--type", "xdp", "--unprivileged", "--mem", String(repeating: "00 ", count: 14)])
        #expect(verified.status == 0 && verified.stdout == "0x2\n", "\(verified.stderr)")
    }
}
