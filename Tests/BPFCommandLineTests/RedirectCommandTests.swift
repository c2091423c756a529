import BPFCommandTestSupport
import Foundation
import Testing

/// `bpfkit run --json` reports the verdict and, for a redirect, where the packet goes.
@Suite struct RedirectCommandTests {
    static let program = "Tests/Fixtures/bpf-programs/redirects.c"
    /// An Ethernet header, then the program's key and flags bytes.
    static func packet(key: UInt8, flags: UInt8) -> String {
        (Array(repeating: "00", count: 12) + ["88", "b5", String(format: "%02x", key), String(format: "%02x", flags)] + Array(repeating: "00", count: 20))
            .joined(separator: " ")
    }

    @Test func jsonNamesTheRedirectTarget() throws {
        let result = try bpfkit(["run", Self.program, "--program", "redirect_ifindex", "--mem", Self.packet(key: 5, flags: 0), "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect((object?["retval"] as? NSNumber)?.intValue == 4)
        #expect(object?["verdict"] as? String == "XDP_REDIRECT")
        let redirect = object?["redirect"] as? [String: Any]
        #expect(redirect?["kind"] as? String == "ifindex")
        #expect((redirect?["ifindex"] as? NSNumber)?.intValue == 5)
    }

    /// An absent devmap entry: the flags' fallback action, and no target.
    @Test func fallbackActionHasNoTarget() throws {
        let result = try bpfkit(["run", Self.program, "--program", "redirect_devmap", "--mem", Self.packet(key: 1, flags: 2), "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(object?["verdict"] as? String == "XDP_PASS")
        #expect(object?["redirect"] == nil)
    }
}
