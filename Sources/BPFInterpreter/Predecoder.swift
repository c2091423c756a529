import BPFISA
import BPFRuntime

/// Turns a validated `Program` into the interpreter's flat instruction array.
///
/// Everything that can be decided once is decided here: the operand form
/// and width pick the `Op`, immediates are extended the way the operation
/// reads them, jump offsets become absolute slots, byte swaps are resolved
/// for the host's byte order, and helper numbers are looked up so that a
/// call costs an array index instead of a dictionary probe.
struct Predecoder {
    private(set) var code: [DecodedInstruction] = []
    /// Helpers named by `callHelper` instructions, by `imm`.
    private(set) var helpers: [Helper] = []
    /// Messages of `unsupported` instructions, by `imm`.
    private(set) var unsupported: [String] = []
    private let registry: HelperRegistry
    private var helperIndex: [Int32: Int] = [:]
    /// Whether `call 12` is a tail call (the configuration has the program arrays).
    private let tailCalls: Bool
    /// The byte order of the program's memory (`le`/`be` swap relative to it).
    private let byteOrder: ByteOrder

    init(program: Program, helpers registry: HelperRegistry, tailCalls: Bool = false, byteOrder: ByteOrder = .host) {
        self.registry = registry
        self.tailCalls = tailCalls
        self.byteOrder = byteOrder
        code.reserveCapacity(program.count)
        for (pc, instruction) in program.instructions.enumerated() {
            code.append(decode(instruction, at: pc))
        }
        fuse()
    }

    /// Superinstructions: sequences clang emits all the time become one
    /// dispatch each, in the first slot of the sequence (the later slots keep
    /// their own decoding but are stepped over):
    ///
    /// - `mov64 rd, rs; add64 rd, imm; jgt64 rd, rt, target` → `movAddJgt64r`
    ///   (a packet bounds check: `if (data + n > data_end)`)
    /// - `mov64 rd, rs; add64 rd, rt` (t ≠ d) → `movAdd64r`: `rd = rs + rt`
    /// - `mov64 rd, rs; add64 rd, imm` → `movAdd64i`: `rd = rs + imm`
    /// - `add64 rd, a; jne64 rd, b, target` → `addJne64i` (a loop's counter
    ///   step and test; `imm` packs a and b, both 32-bit immediates)
    ///
    /// The later slots of a sequence keep their own decoding, so a jump that
    /// lands inside one runs the rest of it unfused, and a sequence's head
    /// stands for exactly what the unfused instructions do from there: no
    /// landing analysis is needed. The fused handlers count every
    /// instruction against the runaway guard and stop between them exactly
    /// where the unfused sequence would, so results, errors and instruction
    /// limits are those of the unfused program.
    private mutating func fuse() {
        guard code.count > 1 else { return }
        for i in 0..<(code.count - 1) {
            let a = code[i], b = code[i + 1]
            guard b.dst == a.dst else { continue }
            if i + 2 < code.count, a.op == .mov64r, b.op == .add64i,
               code[i + 2].op == .jgt64r, code[i + 2].dst == a.dst {
                let bound = code[i + 2]
                let packed = UInt64(UInt32(truncatingIfNeeded: b.imm)) | UInt64(bound.src) << 32
                code[i] = DecodedInstruction(.movAddJgt64r, dst: a.dst, src: a.src, offset: bound.offset, imm: packed)
                continue
            }
            switch (a.op, b.op) {
            case (.mov64r, .add64r) where b.src != a.dst:
                code[i] = DecodedInstruction(.movAdd64r, dst: a.dst, src: a.src, imm: UInt64(b.src))
            case (.mov64r, .add64i):
                code[i] = DecodedInstruction(.movAdd64i, dst: a.dst, src: a.src, imm: b.imm)
            case (.add64i, .jne64i):
                let packed = UInt64(UInt32(truncatingIfNeeded: a.imm)) | UInt64(UInt32(truncatingIfNeeded: b.imm)) << 32
                code[i] = DecodedInstruction(.addJne64i, dst: a.dst, offset: b.offset, imm: packed)
            default:
                continue
            }
        }
    }

    private mutating func decode(_ instruction: Instruction, at pc: Int) -> DecodedInstruction {
        switch instruction {
        case .alu(let width, let operation, let dst, let operand):
            let ops = Self.aluOps(operation)
            switch (width, operand) {
            case (.w64, .register(let src)): return DecodedInstruction(ops.0, dst: dst.rawValue, src: src.rawValue)
            case (.w64, .immediate(let imm)): return DecodedInstruction(ops.1, dst: dst.rawValue, imm: Self.signExtended(imm))
            case (.w32, .register(let src)): return DecodedInstruction(ops.2, dst: dst.rawValue, src: src.rawValue)
            case (.w32, .immediate(let imm)): return DecodedInstruction(ops.3, dst: dst.rawValue, imm: Self.zeroExtended(imm))
            }
        case .neg(let width, let dst):
            return DecodedInstruction(width == .w64 ? .neg64 : .neg32, dst: dst.rawValue)
        case .movsx(let width, let dst, let src, let bits):
            let op: Op = switch (width, bits) {
            case (.w64, 8): .movsx64from8
            case (.w64, 16): .movsx64from16
            case (.w64, _): .movsx64from32
            case (.w32, 8): .movsx32from8
            case (.w32, _): .movsx32from16
            }
            return DecodedInstruction(op, dst: dst.rawValue, src: src.rawValue)
        case .byteSwap(let kind, let dst, let bits):
            return DecodedInstruction(Self.byteSwapOp(kind, bits: bits, order: byteOrder), dst: dst.rawValue)
        case .jump(let offset):
            return DecodedInstruction(.ja, offset: Int32(pc + 1 + Int(offset)))
        case .jumpLong(let offset):
            return DecodedInstruction(.ja, offset: Int32(truncatingIfNeeded: pc + 1 + Int(offset)))
        case .branch(let width, let condition, let dst, let operand, let offset):
            let ops = Self.branchOps(condition)
            let target = Int32(pc + 1 + Int(offset))
            switch (width, operand) {
            case (.w64, .register(let src)): return DecodedInstruction(ops.0, dst: dst.rawValue, src: src.rawValue, offset: target)
            case (.w64, .immediate(let imm)): return DecodedInstruction(ops.1, dst: dst.rawValue, offset: target, imm: Self.signExtended(imm))
            case (.w32, .register(let src)): return DecodedInstruction(ops.2, dst: dst.rawValue, src: src.rawValue, offset: target)
            case (.w32, .immediate(let imm)): return DecodedInstruction(ops.3, dst: dst.rawValue, offset: target, imm: Self.zeroExtended(imm))
            }
        case .call(.helper(let id)) where tailCalls && id == TailCalls.helperID:
            return DecodedInstruction(.tailCall)
        case .call(.helper(let id)):
            return helperCall(id)
        case .call(.local(let offset)):
            return DecodedInstruction(.callLocal, offset: Int32(truncatingIfNeeded: pc + 1 + Int(offset)))
        case .call(.register(let register)):
            return DecodedInstruction(.callRegister, dst: register.rawValue)
        case .call(.kfunc(let btfID)):
            return unsupported("a kernel function call (kfunc, BTF id \(btfID))")
        case .exit:
            return DecodedInstruction(.exit)
        case .loadImmediate64(let dst, .value(let value)):
            return DecodedInstruction(.loadImmediate, dst: dst.rawValue, imm: value)
        case .loadImmediate64(_, let kind):
            // Maps, variables and code addresses are resolved by the runtime
            // before a program reaches an engine; one arriving here is a bug upstream.
            return unsupported("an unresolved 64-bit immediate load of kind \(kind.sourceField) (\(kind))")
        case .immediate64Tail:
            return DecodedInstruction(.tail)
        case .load(let size, let dst, let src, let offset):
            let op: Op = switch size { case .byte: .ldxb; case .half: .ldxh; case .word: .ldxw; case .double: .ldxdw }
            return DecodedInstruction(op, dst: dst.rawValue, src: src.rawValue, offset: Int32(offset))
        case .loadSignExtend(let size, let dst, let src, let offset):
            let op: Op = switch size { case .byte: .ldxsb; case .half: .ldxsh; case .word, .double: .ldxsw }
            return DecodedInstruction(op, dst: dst.rawValue, src: src.rawValue, offset: Int32(offset))
        case .storeImmediate(let size, let dst, let offset, let imm):
            let op: Op = switch size { case .byte: .stb; case .half: .sth; case .word: .stw; case .double: .stdw }
            return DecodedInstruction(op, dst: dst.rawValue, offset: Int32(offset), imm: Self.signExtended(imm))
        case .store(let size, let dst, let offset, let src):
            let op: Op = switch size { case .byte: .stxb; case .half: .stxh; case .word: .stxw; case .double: .stxdw }
            return DecodedInstruction(op, dst: dst.rawValue, src: src.rawValue, offset: Int32(offset))
        case .atomic(let width, let operation, let dst, let offset, let src):
            return DecodedInstruction(Self.atomicOp(operation, width: width), dst: dst.rawValue, src: src.rawValue, offset: Int32(offset))
        }
    }

    private mutating func helperCall(_ id: Int32) -> DecodedInstruction {
        guard let helper = registry[id] else {
            return DecodedInstruction(.callUnknownHelper, imm: UInt64(UInt32(bitPattern: id)))
        }
        if let index = helperIndex[id] { return DecodedInstruction(.callHelper, imm: UInt64(index)) }
        helperIndex[id] = helpers.count
        helpers.append(helper)
        return DecodedInstruction(.callHelper, imm: UInt64(helpers.count - 1))
    }

    private mutating func unsupported(_ what: String) -> DecodedInstruction {
        unsupported.append(what)
        return DecodedInstruction(.unsupported, imm: UInt64(unsupported.count - 1))
    }

    /// ALU64 immediates are sign-extended to 64 bits (RFC 9669, section 4.1).
    static func signExtended(_ imm: Int32) -> UInt64 { UInt64(bitPattern: Int64(imm)) }
    /// ALU and JMP32 immediates are used as 32 bits.
    static func zeroExtended(_ imm: Int32) -> UInt64 { UInt64(UInt32(bitPattern: imm)) }
}

// MARK: - Operation tables

extension Predecoder {
    /// (64-bit register, 64-bit immediate, 32-bit register, 32-bit immediate).
    typealias Forms = (Op, Op, Op, Op)

    static func aluOps(_ operation: ALUOperation) -> Forms {
        switch operation {
        case .add: (.add64r, .add64i, .add32r, .add32i)
        case .sub: (.sub64r, .sub64i, .sub32r, .sub32i)
        case .mul: (.mul64r, .mul64i, .mul32r, .mul32i)
        case .div: (.div64r, .div64i, .div32r, .div32i)
        case .sdiv: (.sdiv64r, .sdiv64i, .sdiv32r, .sdiv32i)
        case .mod: (.mod64r, .mod64i, .mod32r, .mod32i)
        case .smod: (.smod64r, .smod64i, .smod32r, .smod32i)
        case .or: (.or64r, .or64i, .or32r, .or32i)
        case .and: (.and64r, .and64i, .and32r, .and32i)
        case .xor: (.xor64r, .xor64i, .xor32r, .xor32i)
        case .lsh: (.lsh64r, .lsh64i, .lsh32r, .lsh32i)
        case .rsh: (.rsh64r, .rsh64i, .rsh32r, .rsh32i)
        case .arsh: (.arsh64r, .arsh64i, .arsh32r, .arsh32i)
        case .mov: (.mov64r, .mov64i, .mov32r, .mov32i)
        }
    }

    static func branchOps(_ condition: JumpCondition) -> Forms {
        switch condition {
        case .eq: (.jeq64r, .jeq64i, .jeq32r, .jeq32i)
        case .ne: (.jne64r, .jne64i, .jne32r, .jne32i)
        case .gt: (.jgt64r, .jgt64i, .jgt32r, .jgt32i)
        case .ge: (.jge64r, .jge64i, .jge32r, .jge32i)
        case .lt: (.jlt64r, .jlt64i, .jlt32r, .jlt32i)
        case .le: (.jle64r, .jle64i, .jle32r, .jle32i)
        case .set: (.jset64r, .jset64i, .jset32r, .jset32i)
        case .sgt: (.jsgt64r, .jsgt64i, .jsgt32r, .jsgt32i)
        case .sge: (.jsge64r, .jsge64i, .jsge32r, .jsge32i)
        case .slt: (.jslt64r, .jslt64i, .jslt32r, .jslt32i)
        case .sle: (.jsle64r, .jsle64i, .jsle32r, .jsle32i)
        }
    }

    static func atomicOp(_ operation: AtomicOperation, width: Width) -> Op {
        switch (operation, width) {
        case (.add(false), .w64): .atomicAdd64
        case (.add(true), .w64): .atomicFetchAdd64
        case (.or(false), .w64): .atomicOr64
        case (.or(true), .w64): .atomicFetchOr64
        case (.and(false), .w64): .atomicAnd64
        case (.and(true), .w64): .atomicFetchAnd64
        case (.xor(false), .w64): .atomicXor64
        case (.xor(true), .w64): .atomicFetchXor64
        case (.xchg, .w64): .atomicXchg64
        case (.cmpxchg, .w64): .atomicCmpxchg64
        case (.add(false), .w32): .atomicAdd32
        case (.add(true), .w32): .atomicFetchAdd32
        case (.or(false), .w32): .atomicOr32
        case (.or(true), .w32): .atomicFetchOr32
        case (.and(false), .w32): .atomicAnd32
        case (.and(true), .w32): .atomicFetchAnd32
        case (.xor(false), .w32): .atomicXor32
        case (.xor(true), .w32): .atomicFetchXor32
        case (.xchg, .w32): .atomicXchg32
        case (.cmpxchg, .w32): .atomicCmpxchg32
        }
    }

    /// END and BSWAP (RFC 9669, section 4.2): converting to the memory's own
    /// byte order (the host's unless the interpreter runs big-endian) only
    /// truncates; converting to the other order, or BSWAP, reverses the
    /// bytes. Both zero-extend the 16- and 32-bit forms.
    static func byteSwapOp(_ kind: ByteSwapKind, bits: UInt8, order: ByteOrder = .host) -> Op {
        let reverses: Bool
        switch kind {
        case .swap: reverses = true
        case .toLittleEndian: reverses = order == .big
        case .toBigEndian: reverses = order == .little
        }
        switch (bits, reverses) {
        case (16, false): return .truncate16
        case (32, false): return .truncate32
        case (_, false): return .nop
        case (16, true): return .swap16
        case (32, true): return .swap32
        case (_, true): return .swap64
        }
    }
}
