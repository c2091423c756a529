import BPFHelpers
import BPFLoader
import BPFRuntime
import Foundation
import Testing

/// Packet pointers of tc programs after helpers that change the packet.
@Suite(.enabled(if: Clang.available, "clang or BPF headers missing"))
struct TCPacketTests {
    static let source = testProgramsDirectory.appendingPathComponent("tc_stale_pointer.c")

    /// A pointer from before `bpf_skb_change_tail` no longer proves anything:
    /// the read past the shrunk packet stops the run on every engine (the JIT
    /// keeps its check because the verifier forgot the pointer's range).
    @Test(arguments: engines.map(\.name))
    func stalePacketPointersAreChecked(_ engineName: String) throws {
        let engine = try #require(engines.first { $0.name == engineName })
        let object = try LoadedObject(bytes: Clang.object(Self.source))
        let packet = Packets.ipv4(protocol: 6, payload: Packets.bytes(60))
        let stale = try object.program(named: "stale_after_change_tail")
        #expect(throws: ExecutionError.self) { _ = try run(stale, on: engine, input: packet) }
        let fresh = try object.program(named: "fresh_after_change_tail")
        let (value, output) = try run(fresh, on: engine, input: packet)
        #expect(value == 2 && output == Array(packet.prefix(14)))
    }
}
