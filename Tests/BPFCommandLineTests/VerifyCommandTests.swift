import BPFCommandTestSupport
import Foundation
import Testing

@Suite struct VerifyCommandTests {
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/include/bpf/bpf_helpers.h")))
    func benchProgramIsFullyProven() throws {
        let result = try bpfkit(["verify", "bench/flow_lookup.c", "--strict"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("flow_lookup (section xdp): accesses proven 24 of 24; terminates: yes, within "), "\(result.stdout)")
        #expect(result.stdout.contains("registers written before read: yes"))
    }

    /// One access past the checked packet range: logged with its reason, and --strict fails.
    @Test func unprovenAccessIsLoggedAndStrictFails() throws {
        // r2 = data, r3 = data_end; if r2 + 4 > r3 goto out; r0 = *(u8 *)(r2 + 4)
        let program = try temporaryFile("past.s", text: """
            ldxw %r2, [%r1+0]
            ldxw %r3, [%r1+4]
            mov %r4, %r2
            add %r4, 4
            jgt %r4, %r3, +2
            ldxb %r0, [%r2+3]
            ldxb %r0, [%r2+4]
            mov %r0, 0
            exit

            """)
        let result = try bpfkit(["verify", program, "--type", "xdp", "--log"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("accesses proven 3 of 4"), "\(result.stdout)")
        #expect(result.stdout.contains("instruction 6: r2 + 4 (packet, off 0, range 4): 1-byte read past the checked packet range"),
                "\(result.stdout)")
        let strict = try bpfkit(["verify", program, "--type", "xdp", "--strict"])
        #expect(strict.status == 1)
        // And it still runs, checked: a 14-byte packet passes the test, so the read is in bounds.
        let run = try bpfkit(["run", program, "--type", "xdp", "--mem", String(repeating: "00 ", count: 14), "--no-verify"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "0x0\n")
    }
}
