import BPFHelpers
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITMIPS32
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import Testing

/// Helpers see the BPF stack, exactly, and nothing else of the emulated
/// machine's stack (saved registers, return addresses, the frames above
/// r10 and the rest of the stack below the BPF frames): memory arguments
/// there fail in the helper at the same instruction as on the interpreter
/// of the same byte order, verified or not.
@Suite struct HelperStackBoundsTests {
    /// How a run ended, without what differs between engines by
    /// construction (the stack's address in an error message).
    enum Verdict: Equatable, CustomStringConvertible {
        case value(UInt64, [UInt8])
        case helperFailed(pc: Int, id: Int32)
        case other(String)

        init(_ error: ExecutionError) {
            if case .helperFailed(let pc, let id, _) = error { self = .helperFailed(pc: pc, id: id) } else { self = .other("\(error)") }
        }

        var description: String {
            switch self {
            case .value(let r0, let bytes): "r0 \(r0), output \(bytes.prefix(16))"
            case .helperFailed(let pc, let id): "helper \(id) failed at \(pc)"
            case .other(let what): what
            }
        }
    }

    static let packet = (0..<64).map { UInt8(truncatingIfNeeded: 0xA0 &+ $0) }

    /// `byteOrder` is the engine's: the run's XDP context is laid out in it.
    static func verdict(_ attack: HelperStackAttacks.Attack, on engine: some ExecutionEngine, verified: Bool,
                        byteOrder: ByteOrder) throws -> Verdict {
        let maps: [any BPFMap] = attack.usesMap
            ? [try makeMap(MapDefinition(name: "h", type: .hash, keySize: 8, valueSize: 8, maxEntries: 4))] : []
        let linked = try LinkedProgram(program: Program(attack.instructions), type: ProgramTypes.xdp, maps: maps)
        let prepared = try engine.prepare(linked.program, configuration: linked.engineConfiguration(verified: verified))
        let run = try linked.makeRun(input: packet, byteOrder: byteOrder)
        do {
            let r0 = try prepared.run(run.input)
            return .value(r0, run.output())
        } catch {
            return Verdict(error)
        }
    }

    @Test(arguments: HelperStackAttacks.all)
    func endsAsOnTheInterpreter(_ attack: HelperStackAttacks.Attack) throws {
        for verified in [false, true] {
            for bigEndian in [false, true] {
                let order: ByteOrder = bigEndian ? .big : .little
                let expected = try Self.verdict(attack, on: Interpreter(byteOrder: order), verified: verified, byteOrder: order)
                if case .value = expected { Issue.record("the interpreter let \(attack) through: \(expected)") }
                let got = try Self.verdict(attack, on: MIPS32JIT(bigEndian: bigEndian), verified: verified, byteOrder: order)
                #expect(got == expected, "\(attack), verified \(verified), big endian \(bigEndian): MIPS32 \(got), interpreter \(expected)")
            }
        }
    }

    /// Arguments inside the BPF stack still work, so the stack helpers see
    /// is not empty: a key at r10 - 16 updates the map.
    @Test func argumentsInsideTheStackStillWork() throws {
        let update = HelperStackAttacks.update(keyOffset: -16)
        #expect(try Self.verdict(update, on: MIPS32JIT(), verified: false, byteOrder: .little) == .value(0, Self.packet))
        #expect(try Self.verdict(update, on: MIPS32JIT(), verified: true, byteOrder: .little) == .value(0, Self.packet))
    }
}
