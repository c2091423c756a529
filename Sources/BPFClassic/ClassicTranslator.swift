import BPFISA

/// Translates a classic program into eBPF with the kernel's semantics
/// (`bpf_convert_filter` in net/core/filter.c), for the socket-filter context
/// `SocketFilterContext`:
///
/// - A is `w0` and X is `w7`, both zeroed at entry; every ALU operation is
///   32-bit, so both stay zero-extended. The context stays in r6, the packet's
///   start and end in r8 and r9. `M[0]`–`M[15]` are the 64 bytes below r10.
/// - Packet loads (`ld[bhw] [k]`, `ld[bhw] [x + k]`, `ldxb 4*([k]&0xf)`)
///   compare the end of the load with the packet's end first; a load that
///   does not fit ends the program with 0 (the packet is dropped), as in the
///   kernel. Multi-byte loads are big endian (network order). The offset of
///   an indirect load is `X + k` in 32 bits; one that is negative as a
///   signed number, or past the largest packet, ends the program with 0.
/// - Division or modulo by X == 0 ends the program with 0. A constant zero
///   divisor is refused by `ClassicProgram.check`.
/// - Shifts by X use eBPF's 32-bit shift, which takes X modulo 32 (the
///   kernel's behaviour; libpcap's own interpreter gives 0 for X >= 32).
/// - Ancillary loads read the context (`SKF_AD_PROTOCOL`, `PKTTYPE`,
///   `IFINDEX`, `VLAN_TAG`, `VLAN_TAG_PRESENT`, `VLAN_TPID`), call a helper
///   (`SKF_AD_CPU`: `bpf_get_smp_processor_id`, `SKF_AD_RANDOM`:
///   `bpf_get_prandom_u32`), or compute (`SKF_AD_ALU_XOR_X`: A ^= X). The
///   others need kernel state and are refused with `ClassicError`, as are
///   loads relative to the network header (`SKF_NET_OFF`). Loads relative to
///   the link-layer header (`SKF_LL_OFF`) read the packet from its start.
/// - `ret #k` returns k, `ret a` returns A: the number of bytes to keep,
///   0 to drop.
///
/// Every cBPF instruction becomes a short block; cBPF jumps become jumps
/// between blocks, and all "return 0" paths share one block at the end.
public enum ClassicTranslator {
    /// Bytes below r10 holding M[0]...M[15].
    static let scratchBytes: Int16 = 64
    /// An offset (`X + k`) past this cannot be inside a packet: the largest
    /// pcap snapshot length (262,144) plus the widest load. Checking it first
    /// keeps the offset a bounded number the verifier can follow.
    public static let maxPacketOffset: Int32 = 262_144

    static let a = Register.r0, x = Register.r7, context = Register.r6, data = Register.r8, dataEnd = Register.r9

    private enum Label: Hashable {
        case classic(Int)
        case returnZero
    }

    private enum Item {
        case instruction(Instruction)
        /// A jump to a label; the closure builds it from the final offset.
        case jump(Label, @Sendable (Int16) -> Instruction)
    }

    /// The eBPF program for `classic`, named `name`.
    public static func translate(_ classic: ClassicProgram, name: String = "cbpf") throws(ClassicError) -> Program {
        var blocks: [[Item]] = []
        blocks.reserveCapacity(classic.instructions.count)
        for (pc, insn) in classic.instructions.enumerated() {
            blocks.append(try block(for: insn, at: pc, count: classic.instructions.count))
        }
        let prologue: [Item] = [
            .instruction(.alu(.w64, .mov, dst: context, .register(.r1))),
            .instruction(.load(.double, dst: data, src: context, offset: Int16(SocketFilterContext.data))),
            .instruction(.load(.double, dst: dataEnd, src: context, offset: Int16(SocketFilterContext.dataEnd))),
            .instruction(.alu(.w32, .mov, dst: a, .immediate(0))),
            .instruction(.alu(.w32, .mov, dst: x, .immediate(0))),
        ]
        let epilogue: [Item] = [.instruction(.alu(.w32, .mov, dst: a, .immediate(0))), .instruction(.exit)]
        // Lay out: prologue, the blocks, the shared return-zero block.
        var starts: [Int] = []
        var position = prologue.count
        for block in blocks {
            starts.append(position)
            position += block.count
        }
        let returnZero = position
        var items = prologue
        var slots: [Instruction] = []
        for block in blocks { items += block }
        items += epilogue
        for (slot, item) in items.enumerated() {
            switch item {
            case .instruction(let instruction):
                slots.append(instruction)
            case .jump(let label, let make):
                let target: Int
                switch label {
                case .classic(let pc): target = starts[pc]
                case .returnZero: target = returnZero
                }
                let offset = target - slot - 1
                guard let offset16 = Int16(exactly: offset) else {
                    throw ClassicError(.program, "the translated program is too long for eBPF's 16-bit jump offsets")
                }
                slots.append(make(offset16))
            }
        }
        return Program(slots, name: name)
    }

    private static func block(for insn: ClassicInstruction, at pc: Int, count: Int) throws(ClassicError) -> [Item] {
        typealias I = ClassicInstruction
        let k = insn.k
        let kImm = Int32(bitPattern: k)
        func ins(_ i: Instruction) -> Item { .instruction(i) }
        func toZero(_ make: @escaping @Sendable (Int16) -> Instruction) -> Item { .jump(.returnZero, make) }
        func stackOffset(_ word: UInt32) -> Int16 { -scratchBytes + Int16(word) * 4 }
        let accessSize: AccessSize = insn.size == I.h ? .half : insn.size == I.b ? .byte : .word

        /// Loads `size` bytes at the packet offset in r1 (already checked
        /// against the end through r2) into `dst`, in network order.
        func loadChecked(_ dst: Register, offset: Int16) -> [Item] {
            var out = [ins(.load(accessSize, dst: dst, src: .r1, offset: offset))]
            if accessSize != .byte { out.append(ins(.byteSwap(.toBigEndian, dst: dst, bits: UInt8(insn.loadBytes * 8)))) }
            return out
        }
        /// A load at the constant packet offset `offset`.
        func absoluteLoad(_ dst: Register, offset: UInt32, bytes: Int) -> [Item] {
            guard offset <= UInt32(maxPacketOffset) else { return [toZero { .jump(offset: $0) }] }
            return [ins(.alu(.w64, .mov, dst: .r1, .register(data))),
                    ins(.alu(.w64, .add, dst: .r1, .immediate(Int32(offset) + Int32(bytes)))),
                    toZero { .branch(.w64, .gt, dst: .r1, .register(dataEnd), offset: $0) }]
        }

        switch insn.instructionClass {
        case I.ld:
            switch insn.mode {
            case I.imm: return [ins(.alu(.w32, .mov, dst: a, .immediate(kImm)))]
            case I.len: return [ins(.load(.word, dst: a, src: context, offset: Int16(SocketFilterContext.length)))]
            case I.mem: return [ins(.load(.word, dst: a, src: .r10, offset: stackOffset(k)))]
            case I.abs:
                if case .some(let field) = AncillaryField.at(k) {
                    guard let field else { throw ClassicError(.instruction(pc), "unknown ancillary load") }
                    return try ancillary(field, at: pc)
                }
                var offset = k
                if k >= AncillaryField.linkLayerOffset && k < AncillaryField.networkOffset {
                    offset = k &- AncillaryField.linkLayerOffset
                } else if k >= AncillaryField.networkOffset {
                    throw ClassicError(.instruction(pc), "loads relative to the network header (SKF_NET_OFF) need the kernel's header offsets; they are not supported")
                }
                let check = absoluteLoad(a, offset: offset, bytes: insn.loadBytes)
                if check.count == 1 { return check }
                return check + loadChecked(a, offset: Int16(-insn.loadBytes))
            default:  // ind
                return [ins(.alu(.w32, .mov, dst: .r1, .register(x))),
                        ins(.alu(.w32, .add, dst: .r1, .immediate(kImm))),
                        toZero { .branch(.w64, .gt, dst: .r1, .immediate(maxPacketOffset), offset: $0) },
                        ins(.alu(.w64, .add, dst: .r1, .register(data))),
                        ins(.alu(.w64, .mov, dst: .r2, .register(.r1))),
                        ins(.alu(.w64, .add, dst: .r2, .immediate(Int32(insn.loadBytes)))),
                        toZero { .branch(.w64, .gt, dst: .r2, .register(dataEnd), offset: $0) }]
                    + loadChecked(a, offset: 0)
            }
        case I.ldx:
            switch insn.mode {
            case I.imm: return [ins(.alu(.w32, .mov, dst: x, .immediate(kImm)))]
            case I.len: return [ins(.load(.word, dst: x, src: context, offset: Int16(SocketFilterContext.length)))]
            case I.mem: return [ins(.load(.word, dst: x, src: .r10, offset: stackOffset(k)))]
            default:  // msh: X = 4 * (P[k] & 0xf)
                var offset = k
                if k >= AncillaryField.linkLayerOffset && k < AncillaryField.networkOffset {
                    offset = k &- AncillaryField.linkLayerOffset
                } else if k >= AncillaryField.networkOffset {
                    throw ClassicError(.instruction(pc), "loads relative to the network header (SKF_NET_OFF) or ancillary offsets are not supported by ldxb 4*([k]&0xf)")
                }
                let check = absoluteLoad(x, offset: offset, bytes: 1)
                if check.count == 1 { return check }
                return check + [ins(.load(.byte, dst: x, src: .r1, offset: -1)),
                                ins(.alu(.w32, .and, dst: x, .immediate(0xf))),
                                ins(.alu(.w32, .lsh, dst: x, .immediate(2)))]
            }
        case I.st: return [ins(.store(.word, dst: .r10, offset: stackOffset(k), src: a))]
        case I.stx: return [ins(.store(.word, dst: .r10, offset: stackOffset(k), src: x))]
        case I.alu:
            let operations: [UInt16: ALUOperation] = [I.add: .add, I.sub: .sub, I.mul: .mul, I.div: .div, I.or: .or, I.and: .and,
                                                      I.lsh: .lsh, I.rsh: .rsh, I.mod: .mod, I.xor: .xor]
            if insn.operation == I.neg { return [ins(.neg(.w32, dst: a))] }
            guard let operation = operations[insn.operation] else { throw ClassicError(.instruction(pc), "unknown ALU operation") }
            if insn.source == I.srcX {
                var out: [Item] = []
                if operation == .div || operation == .mod {
                    out.append(toZero { .branch(.w32, .eq, dst: x, .immediate(0), offset: $0) })
                }
                return out + [ins(.alu(.w32, operation, dst: a, .register(x)))]
            }
            return [ins(.alu(.w32, operation, dst: a, .immediate(kImm)))]
        case I.jmp:
            if insn.operation == I.ja { return [.jump(.classic(pc + 1 + Int(k)), { .jump(offset: $0) })] }
            let conditions: [UInt16: JumpCondition] = [I.jeq: .eq, I.jgt: .gt, I.jge: .ge, I.jset: .set]
            let inverses: [JumpCondition: JumpCondition] = [.eq: .ne, .gt: .le, .ge: .lt]
            guard let condition = conditions[insn.operation] else { throw ClassicError(.instruction(pc), "unknown jump") }
            let operand: Operand = insn.source == I.srcX ? .register(x) : .immediate(kImm)
            let whenTrue = pc + 1 + Int(insn.jt), whenFalse = pc + 1 + Int(insn.jf)
            if whenTrue == whenFalse {
                return whenTrue == pc + 1 ? [] : [.jump(.classic(whenTrue), { .jump(offset: $0) })]
            }
            if whenFalse == pc + 1 {
                return [.jump(.classic(whenTrue), { .branch(.w32, condition, dst: a, operand, offset: $0) })]
            }
            if whenTrue == pc + 1, let inverse = inverses[condition] {
                return [.jump(.classic(whenFalse), { .branch(.w32, inverse, dst: a, operand, offset: $0) })]
            }
            return [.jump(.classic(whenTrue), { .branch(.w32, condition, dst: a, operand, offset: $0) }),
                    .jump(.classic(whenFalse), { .jump(offset: $0) })]
        case I.ret:
            if insn.code & 0x18 == I.retA { return [ins(.exit)] }
            return [ins(.alu(.w32, .mov, dst: a, .immediate(kImm))), ins(.exit)]
        default:
            return insn.operation == I.txa ? [ins(.alu(.w32, .mov, dst: a, .register(x)))]
                : [ins(.alu(.w32, .mov, dst: x, .register(a)))]
        }
    }

    private static func ancillary(_ field: AncillaryField, at pc: Int) throws(ClassicError) -> [Item] {
        func contextWord(_ offset: Int) -> [Item] { [.instruction(.load(.word, dst: a, src: context, offset: Int16(offset)))] }
        switch field {
        case .protocolNumber: return contextWord(SocketFilterContext.protocolNumber)
        case .packetType: return contextWord(SocketFilterContext.packetType)
        case .interfaceIndex: return contextWord(SocketFilterContext.interfaceIndex)
        case .vlanTag: return contextWord(SocketFilterContext.vlanTag)
        case .vlanTagPresent: return contextWord(SocketFilterContext.vlanTagPresent)
        case .vlanProtocol: return contextWord(SocketFilterContext.vlanProtocol)
        case .aluXorX: return [.instruction(.alu(.w32, .xor, dst: a, .register(x)))]
        // r0 receives the helper's result; r1-r5 are free, r6-r9 and the stack survive the call.
        case .cpu: return [.instruction(.call(.helper(8))), .instruction(.alu(.w32, .mov, dst: a, .register(a)))]
        case .random: return [.instruction(.call(.helper(7))), .instruction(.alu(.w32, .mov, dst: a, .register(a)))]
        default:
            throw ClassicError(.instruction(pc), "ancillary load \(field.kernelName) needs kernel state (a socket buffer's \(field.name)); BPFKit supports SKF_AD_PROTOCOL, PKTTYPE, IFINDEX, VLAN_TAG, VLAN_TAG_PRESENT, VLAN_TPID, CPU, RANDOM and ALU_XOR_X")
        }
    }
}
