import BPFISA

/// Random typed instructions over every case of `Instruction`, with field
/// values biased towards the edges of their ranges.
enum RandomInstruction {
    static func register(_ rng: inout SeededGenerator) -> Register { Register.all.randomElement(using: &rng)! }

    static func imm(_ rng: inout SeededGenerator) -> Int32 {
        [0, 1, -1, .max, .min, 0xffff, -0x10000, .random(in: .min ... .max, using: &rng)].randomElement(using: &rng)!
    }

    static func offset(_ rng: inout SeededGenerator) -> Int16 {
        [0, 1, -1, 2, -2, .max, .min, .random(in: .min ... .max, using: &rng)].randomElement(using: &rng)!
    }

    static func width(_ rng: inout SeededGenerator) -> Width { Bool.random(using: &rng) ? .w32 : .w64 }

    static func operand(_ rng: inout SeededGenerator) -> Operand {
        Bool.random(using: &rng) ? .register(register(&rng)) : .immediate(imm(&rng))
    }

    static func make(_ rng: inout SeededGenerator) -> Instruction {
        switch Int.random(in: 0..<15, using: &rng) {
        case 0: return .alu(width(&rng), ALUOperation.allCases.randomElement(using: &rng)!, dst: register(&rng), operand(&rng))
        case 1: return .neg(width(&rng), dst: register(&rng))
        case 2:
            let (w, bits): (Width, UInt8) = [(.w32, 8), (.w32, 16), (.w64, 8), (.w64, 16), (.w64, 32)].randomElement(using: &rng)!
            return .movsx(w, dst: register(&rng), src: register(&rng), bits: bits)
        case 3: return .byteSwap(ByteSwapKind.allCases.randomElement(using: &rng)!, dst: register(&rng), bits: [16, 32, 64].randomElement(using: &rng)!)
        case 4: return Bool.random(using: &rng) ? .jump(offset: offset(&rng)) : .jumpLong(offset: imm(&rng) / (Bool.random(using: &rng) ? 1 : 1_000_000))
        case 5: return .branch(width(&rng), JumpCondition.allCases.randomElement(using: &rng)!, dst: register(&rng), operand(&rng), offset: Int16.random(in: -3...3, using: &rng))
        case 6:
            let targets: [CallTarget] = [.helper(imm(&rng)), .local(offset: .random(in: -4...4, using: &rng)), .kfunc(btfID: imm(&rng)), .register(register(&rng))]
            return .call(targets.randomElement(using: &rng)!)
        case 7: return .exit
        case 8:
            let values: [Immediate64] = [.value(.random(in: 0 ... .max, using: &rng)), .value(0), .value(.max), .mapByFD(imm(&rng)),
                                         .mapValueByFD(fd: imm(&rng), offset: .random(in: 0 ... .max, using: &rng)),
                                         .variable(btfID: imm(&rng), btfFD: imm(&rng)), .codeAddress(offset: imm(&rng)),
                                         .mapByIndex(imm(&rng)), .mapValueByIndex(index: imm(&rng), offset: UInt32(bitPattern: imm(&rng)))]
            return .loadImmediate64(dst: register(&rng), values.randomElement(using: &rng)!)
        case 9: return .load(AccessSize.allCases.randomElement(using: &rng)!, dst: register(&rng), src: register(&rng), offset: offset(&rng))
        case 10: return .loadSignExtend([.byte, .half, .word].randomElement(using: &rng)!, dst: register(&rng), src: register(&rng), offset: offset(&rng))
        case 11: return .storeImmediate(AccessSize.allCases.randomElement(using: &rng)!, dst: register(&rng), offset: offset(&rng), imm: imm(&rng))
        case 12: return .store(AccessSize.allCases.randomElement(using: &rng)!, dst: register(&rng), offset: offset(&rng), src: register(&rng))
        default: return .atomic(width(&rng), AtomicOperation.all.randomElement(using: &rng)!, dst: register(&rng), offset: offset(&rng), src: register(&rng))
        }
    }
}
