import BPFClassic
import BPFKit
import BPFPcap
import Testing

/// Random classic programs (every instruction kind libpcap interprets) on
/// BPFKit's interpreter and x86-64 JIT against libpcap's `bpf_filter`, over
/// packets long and short, so loads fall inside, across and past the end.
@Suite struct TranslatorFuzzTests {
    typealias I = ClassicInstruction

    static func randomProgram(_ rng: inout Packets.Rng) -> [I] {
        var program: [I] = []
        // Every memory word is written first (the checker requires it on every path).
        for word in 0..<16 {
            program += [I(code: I.ld | I.imm, k: UInt32(truncatingIfNeeded: rng.next())), I(code: I.st, k: UInt32(word))]
        }
        let body = 4 + rng.below(40)
        let sizes = [I.w, I.h, I.b]
        let aluOps = [I.add, I.sub, I.mul, I.div, I.or, I.and, I.lsh, I.rsh, I.mod, I.xor]
        var pending: [I] = []
        for _ in 0..<body {
            switch rng.below(16) {
            case 0: pending.append(I(code: I.ld | I.imm, k: UInt32(truncatingIfNeeded: rng.next())))
            case 1: pending.append(I(code: I.ldx | I.imm, k: UInt32(rng.below(70))))
            case 2, 3: pending.append(I(code: I.ld | sizes[rng.below(3)] | I.abs, k: UInt32(rng.below(72))))
            case 4:  // indirect: X small, as libpcap does not wrap X + k
                pending.append(I(code: I.ldx | I.imm, k: UInt32(rng.below(40))))
                pending.append(I(code: I.ld | sizes[rng.below(3)] | I.ind, k: UInt32(rng.below(40))))
            case 5: pending.append(I(code: I.ldx | I.b | I.msh, k: UInt32(rng.below(70))))
            case 6: pending.append(I(code: [I.ld | I.len, I.ldx | I.len][rng.below(2)]))
            case 7, 8, 9:
                let op = aluOps[rng.below(aluOps.count)]
                if rng.below(2) == 0 {
                    var k = UInt32(truncatingIfNeeded: rng.next())
                    if op == I.lsh || op == I.rsh { k %= 32 }
                    if (op == I.div || op == I.mod) && k == 0 { k = 3 }
                    if rng.below(2) == 0 { k %= 256 }
                    pending.append(I(code: I.alu | op | I.srcK, k: k))
                } else {
                    if op == I.lsh || op == I.rsh { pending.append(I(code: I.ldx | I.imm, k: UInt32(rng.below(32)))) }
                    if (op == I.div || op == I.mod) && rng.below(3) == 0 { pending.append(I(code: I.ldx | I.imm, k: 0)) }
                    pending.append(I(code: I.alu | op | I.srcX))
                }
            case 10: pending.append(I(code: I.alu | I.neg))
            case 11: pending.append(I(code: [I.misc | I.tax, I.misc | I.txa][rng.below(2)]))
            case 12: pending.append(I(code: [I.st, I.stx][rng.below(2)], k: UInt32(rng.below(16))))
            case 13: pending.append(I(code: [I.ld | I.mem, I.ldx | I.w | I.mem][rng.below(2)], k: UInt32(rng.below(16))))
            case 14: pending.append(I(code: I.ret | I.retK, k: UInt32(truncatingIfNeeded: rng.next())))
            default:  // a conditional jump, targets fixed below
                let op = [I.jeq, I.jgt, I.jge, I.jset][rng.below(4)]
                let k: UInt32 = rng.below(2) == 0 ? UInt32(rng.below(300)) : UInt32(truncatingIfNeeded: rng.next())
                pending.append(I(code: I.jmp | op | (rng.below(3) == 0 ? I.srcX : I.srcK), k: k))
            }
        }
        pending.append(I(code: I.ret | I.retA))
        // Jumps go forward inside the body; one in eight is a ja.
        for (index, insn) in pending.enumerated() where insn.instructionClass == I.jmp {
            let room = pending.count - index - 1
            if rng.below(8) == 0 {
                pending[index] = I(code: I.jmp | I.ja, k: UInt32(rng.below(room)))
            } else {
                pending[index].jt = UInt8(min(rng.below(room), 255))
                pending[index].jf = UInt8(min(rng.below(room), 255))
            }
        }
        return program + pending
    }

    @Test func translationAgreesWithLibpcap() throws {
        var rng = Packets.Rng(state: 0xc1a5_51c)
        let engines = [try EngineCatalog.engine(.interpreter), try EngineCatalog.engine(.jit)]
        let packets: [[UInt8]] = [0, 1, 13, 20, 33, 40, 64, 70].map { n in (0..<n).map { _ in UInt8(rng.below(256)) } }
        var programs = 0, nonzero = 0
        for _ in 0..<150 {
            let program = try ClassicProgram(Self.randomProgram(&rng))
            let filters = try engines.map { try ClassicFilter(program, engine: $0) }
            for packet in packets {
                let wire = UInt32(packet.count + rng.below(3) * 10)
                let expected = program.libpcapResult(packet: packet, wireLength: wire)
                for filter in filters {
                    let got = try filter.run(packet, metadata: PacketMetadata(wireLength: wire))
                    #expect(got == expected, "\(program.text) on \(packet.count) bytes: \(got), libpcap \(expected)")
                }
                if expected != 0 { nonzero += 1 }
            }
            programs += 1
        }
        #expect(programs == 150)
        #expect(nonzero > 150)  // most runs end in a return value, not a failed load
    }
}
