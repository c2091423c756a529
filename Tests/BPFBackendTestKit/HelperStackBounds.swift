import BPFHelpers
import BPFInterpreter
import BPFISA
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite

/// Helpers see the BPF stack, exactly, and nothing else of the machine's
/// stack (saved registers, return addresses, the frames above r10 and the
/// rest of the stack below the eight BPF frames): memory arguments there
/// fail in the helper at the same instruction as on the interpreter of the
/// row's byte order, verified or not, on every configuration.
public enum HelperStackBounds {
    /// How a run ended, without what differs between engines by
    /// construction (the stack's address in an error message).
    public enum Verdict: Equatable, CustomStringConvertible, Sendable {
        case value(UInt64, [UInt8])
        case helperFailed(pc: Int, id: Int32)
        case other(String)

        init(_ error: ExecutionError) {
            if case .helperFailed(let pc, let id, _) = error { self = .helperFailed(pc: pc, id: id) } else { self = .other("\(error)") }
        }

        public var description: String {
            switch self {
            case .value(let r0, let bytes): "r0 \(r0), output \(bytes.prefix(16))"
            case .helperFailed(let pc, let id): "helper \(id) failed at \(pc)"
            case .other(let what): what
            }
        }
    }

    static let packet = (0..<64).map { UInt8(truncatingIfNeeded: 0xA0 &+ $0) }

    /// `byteOrder` is the engine's: the run's XDP context is laid out in it.
    static func verdict(_ attack: HelperStackAttacks.Attack, on engine: any ExecutionEngine, verified: Bool,
                        byteOrder: ByteOrder) throws -> Verdict {
        let maps: [any BPFMap] = attack.usesMap
            ? [try makeMap(MapDefinition(name: "h", type: .hash, keySize: 8, valueSize: 8, maxEntries: 4))] : []
        let linked = try LinkedProgram(program: Program(attack.instructions), type: ProgramTypes.xdp, maps: maps)
        let prepared = try engine.prepare(linked.program, configuration: linked.engineConfiguration(verified: verified))
        let run = try linked.makeRun(input: packet, byteOrder: byteOrder)
        defer { withExtendedLifetime(run) {} }
        do {
            let r0 = try prepared.run(run.input)
            return .value(r0, run.output())
        } catch {
            return Verdict(error)
        }
    }

    /// The attack ends as on the interpreter (which must stop it), verified or not.
    static func check(_ row: BackendRow, _ attack: HelperStackAttacks.Attack) throws -> BackendCheckReport {
        var failures: [String] = []
        for verified in [false, true] {
            let expected = try verdict(attack, on: row.reference, verified: verified, byteOrder: row.byteOrder)
            if case .value = expected { failures.append("the interpreter let \(attack) through: \(expected)") }
            for (label, engine) in row.configurations {
                let got = try verdict(attack, on: engine, verified: verified, byteOrder: row.byteOrder)
                if got != expected { failures.append("\(attack), verified \(verified): \(row.name) \(label) \(got), interpreter \(expected)") }
            }
        }
        return BackendCheckReport(summary: "helper stack bounds on \(row.name), \(attack): \(failures.isEmpty ? "stopped as on the interpreter" : "\(failures.count) failures")",
                                  failures: failures)
    }

    /// The same helpers with arguments inside the BPF stack still work, so
    /// the stack the helpers see is not empty: a key at r10 - 16 updates the
    /// map, and 8 packet bytes copied to r10 - 16 come back.
    static func insideTheStack(_ row: BackendRow) throws -> BackendCheckReport {
        var failures: [String] = []
        let update = HelperStackAttacks.update(keyOffset: -16)
        let roundTrip = HelperStackAttacks.Attack(name: "round trip", instructions: [
            .alu(.w64, .mov, dst: .r6, .register(.r1)),
            .alu(.w64, .mov, dst: .r3, .register(.r10)), .alu(.w64, .add, dst: .r3, .immediate(-16)),
            .alu(.w64, .mov, dst: .r2, .immediate(0)), .alu(.w64, .mov, dst: .r4, .immediate(8)),
            .call(.helper(HelperStackAttacks.loadBytes)),
            .alu(.w64, .mov, dst: .r1, .register(.r6)),
            .alu(.w64, .mov, dst: .r3, .register(.r10)), .alu(.w64, .add, dst: .r3, .immediate(-16)),
            .alu(.w64, .mov, dst: .r2, .immediate(8)), .alu(.w64, .mov, dst: .r4, .immediate(8)),
            .call(.helper(HelperStackAttacks.storeBytes)),
            .exit,
        ], usesMap: false)
        let head: [UInt8] = Array(packet[0..<8]), tail: [UInt8] = Array(packet[16...])
        let copied: [UInt8] = head + head + tail
        let reference = try verdict(roundTrip, on: row.reference, verified: false, byteOrder: row.byteOrder)
        if reference != .value(0, copied) { failures.append("round trip on the interpreter: \(reference)") }
        for (label, engine) in row.configurations {
            for verified in [false, true] {
                let updated = try verdict(update, on: engine, verified: verified, byteOrder: row.byteOrder)
                if updated != .value(0, packet) { failures.append("map update with a key at r10 - 16 (\(label), verified \(verified)): \(updated)") }
                let copiedBack = try verdict(roundTrip, on: engine, verified: verified, byteOrder: row.byteOrder)
                if copiedBack != .value(0, copied) { failures.append("round trip through r10 - 16 (\(label), verified \(verified)): \(copiedBack)") }
            }
        }
        return BackendCheckReport(summary: "helper arguments inside the stack on \(row.name): \(failures.count) failures", failures: failures)
    }
}
