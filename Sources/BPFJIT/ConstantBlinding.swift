import BPFISA
import BPFRuntime

/// Constant blinding (the kernel's `bpf_jit_blind_constants`): one rewriting
/// pass shared by every backend, so that no 32-bit immediate a program
/// chooses appears in its native image (JIT spraying plants chosen bytes in
/// executable memory, then jumps into the middle of an instruction).
///
/// With a random key per program, every instruction that carries an
/// immediate is rewritten through the auxiliary register `Register.ax`:
///
/// ```
///     op dst, imm                 ax = imm ^ key      (ALU64 mov: sign-extends, as imm does)
///                          →      ax ^= key           (ALU64 xor)
///                                 op dst, ax
/// ```
///
/// ALU and ALU64 immediates (`mov dst, 0` becomes `xor dst, dst` instead, as
/// in the kernel), JMP and JMP32 immediates, store immediates (`st` becomes
/// `stx` from ax), and both 32-bit halves of a 64-bit constant load
/// (`ld_imm64` with src 0):
///
/// ```
///     ax = hi ^ key; ax ^= key; ax <<= 32; dst = ax
///     ax32 = lo ^ key2; ax32 ^= key2; dst |= ax
/// ```
///
/// Map, variable and code-address loads carry handles and offsets the
/// loader chose, not constants a program chooses, and stay as they are, as
/// do call numbers, memory offsets and jump offsets. Every jump, local call
/// and code address is re-aimed at the rewritten position of its original
/// target. A wide-range jump (`ja`) that no longer fits 16 bits becomes
/// `gotol`; a conditional jump that no longer fits is an error naming it.
///
/// The rewritten program is an internal form: it names `ax`, which no
/// encoded program can. Everything a user sees keeps the original
/// numbering: `origin` maps every rewritten slot back to the instruction it
/// came from (proofs, tail-call plans, compile errors, run-time errors) and
/// `slots` maps every original slot to where its code starts (the image's
/// pc → native map).
public struct JITBlinding: Sendable {
    /// The rewritten program.
    public let program: Program
    /// For each slot of `program`, the original slot it came from.
    public let origin: [Int]
    /// For each original slot (and one past the end), its first slot in
    /// `program`. The second slot of a 64-bit load maps past the whole
    /// (rewritten) load, so that its native range is empty as before.
    public let slots: [Int]
    /// The key of the first half; the second half's key is derived from it.
    public let key: UInt32

    /// Blinds `program` with a fresh random key.
    public static func blind(_ program: Program) throws(JITError) -> JITBlinding {
        var generator = SystemRandomNumberGenerator()
        return try blind(program, key: generator.next())
    }

    /// Blinds `program` with `key` (tests; `blind(_:)` draws it at random).
    /// Per-instruction keys are drawn from a generator seeded with it, as
    /// the kernel draws one per instruction.
    public static func blind(_ program: Program, key: UInt32) throws(JITError) -> JITBlinding {
        let source = program.instructions
        var keys = KeyStream(seed: key)
        var expansions: [[Instruction]] = []
        expansions.reserveCapacity(source.count)
        var pc = 0
        while pc < source.count {
            let instruction = source[pc]
            if case .immediate64Tail = instruction {
                expansions.append([])
                pc += 1
                continue
            }
            expansions.append(rewrite(instruction, keys: &keys))
            pc += 1
        }
        // A blinded 64-bit constant has no tail slot left: its second
        // original slot maps past the rewritten load (see `slots`).
        var slots = [Int](repeating: 0, count: source.count + 1)
        var origin: [Int] = []
        var position = 0
        for (original, expansion) in expansions.enumerated() {
            slots[original] = position
            position += expansion.count
            origin.append(contentsOf: repeatElement(original, count: expansion.count))
        }
        slots[source.count] = position
        // Re-aim every relative offset. The instruction that carries it is
        // the last of its expansion (or the only one).
        var rewritten: [Instruction] = []
        rewritten.reserveCapacity(position)
        for (original, expansion) in expansions.enumerated() {
            for (k, instruction) in expansion.enumerated() {
                let at = slots[original] + k
                guard k == expansion.count - 1, let target = source[original].target(at: original),
                      target >= 0, target <= source.count else {
                    rewritten.append(instruction)
                    continue
                }
                let offset = slots[target] - (at + 1)
                rewritten.append(try retarget(instruction, offset: offset, original: original))
            }
        }
        return JITBlinding(program: Program(rewritten), origin: origin, slots: slots, key: key)
    }

    /// The sequence that replaces `instruction` (itself when nothing is blinded).
    static func rewrite(_ instruction: Instruction, keys: inout KeyStream) -> [Instruction] {
        let ax = Register.ax
        switch instruction {
        case .alu(let width, .mov, let dst, .immediate(0)):
            return [.alu(width, .xor, dst: dst, .register(dst))]
        case .alu(let width, let operation, let dst, .immediate(let imm)):
            let key = keys.next()
            return [.alu(.w64, .mov, dst: ax, .immediate(imm ^ key)),
                    .alu(.w64, .xor, dst: ax, .immediate(key)),
                    .alu(width, operation, dst: dst, .register(ax))]
        case .branch(let width, let condition, let dst, .immediate(let imm), let offset):
            let key = keys.next()
            return [.alu(.w64, .mov, dst: ax, .immediate(imm ^ key)),
                    .alu(.w64, .xor, dst: ax, .immediate(key)),
                    .branch(width, condition, dst: dst, .register(ax), offset: offset)]
        case .storeImmediate(let size, let dst, let offset, let imm):
            let key = keys.next()
            return [.alu(.w64, .mov, dst: ax, .immediate(imm ^ key)),
                    .alu(.w64, .xor, dst: ax, .immediate(key)),
                    .store(size, dst: dst, offset: offset, src: ax)]
        case .loadImmediate64(let dst, .value(let value)):
            let high = Int32(bitPattern: UInt32(truncatingIfNeeded: value >> 32))
            let low = Int32(bitPattern: UInt32(truncatingIfNeeded: value))
            let key1 = keys.next(), key2 = keys.next()
            return [.alu(.w64, .mov, dst: ax, .immediate(high ^ key1)),
                    .alu(.w64, .xor, dst: ax, .immediate(key1)),
                    .alu(.w64, .lsh, dst: ax, .immediate(32)),
                    .alu(.w64, .mov, dst: dst, .register(ax)),
                    .alu(.w32, .mov, dst: ax, .immediate(low ^ key2)),
                    .alu(.w32, .xor, dst: ax, .immediate(key2)),
                    .alu(.w64, .or, dst: dst, .register(ax))]
        case .loadImmediate64:
            return [instruction, .immediate64Tail]
        default:
            return [instruction]
        }
    }

    static func retarget(_ instruction: Instruction, offset: Int, original: Int) throws(JITError) -> Instruction {
        func short() throws(JITError) -> Int16 {
            guard let value = Int16(exactly: offset) else {
                throw JITError.unsupportedInstruction(
                    pc: original, what: "a jump whose target moves out of 16-bit range once constants are blinded")
            }
            return value
        }
        func long() throws(JITError) -> Int32 {
            guard let value = Int32(exactly: offset) else { throw JITError.tooLarge("blinded program") }
            return value
        }
        switch instruction {
        case .jump:
            if let value = Int16(exactly: offset) { return .jump(offset: value) }
            return .jumpLong(offset: try long())
        case .jumpLong: return .jumpLong(offset: try long())
        case .branch(let width, let condition, let dst, let operand, _):
            return .branch(width, condition, dst: dst, operand, offset: try short())
        case .call(.local): return .call(.local(offset: try long()))
        case .loadImmediate64(let dst, .codeAddress): return .loadImmediate64(dst: dst, .codeAddress(offset: try long()))
        default: return instruction
        }
    }

    /// The keys of one program: xorshift32 from the program's key (never 0).
    struct KeyStream {
        var state: UInt32
        init(seed: UInt32) { state = seed == 0 ? 0x9e37_79b9 : seed }
        mutating func next() -> Int32 {
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            return Int32(bitPattern: state)
        }
    }

    // MARK: Back to the original numbering

    /// The original slot of rewritten slot `pc` (`pc` itself past the end).
    public func originalSlot(_ pc: Int) -> Int {
        pc >= 0 && pc < origin.count ? origin[pc] : (pc == origin.count ? slots.count - 1 : pc)
    }

    /// `image` (compiled from `program`) with its pc → native map and
    /// tail-call sites in the original numbering.
    public func restore(_ image: JITImage) -> JITImage {
        let offsets = slots.map { image.instructionOffsets[$0] }
        let sites = image.tailCallSites.map {
            JITTailCallSite(pc: originalSlot($0.pc), arrayHandle: $0.arrayHandle, index: $0.index, kind: $0.kind,
                            bypassOffset: $0.bypassOffset, bypassBytes: $0.bypassBytes, targetOffset: $0.targetOffset)
        }
        return JITImage(architecture: image.architecture, bytes: image.bytes, address: image.address,
                        instructionOffsets: offsets, functionOffsets: image.functionOffsets,
                        epilogueOffsets: image.epilogueOffsets, passes: image.passes, statistics: image.statistics,
                        tailCallSites: sites)
    }

    /// A tail-call plan made from the original program, keyed by rewritten slots.
    public func plan(_ plan: JITTailCallPlan?) -> JITTailCallPlan? {
        guard let plan else { return nil }
        var sites: [Int: (array: JITTailCallArray, index: UInt32)] = [:]
        for (pc, site) in plan.constantSites { sites[slots[pc]] = site }
        return JITTailCallPlan(arrays: plan.arrays, constantSites: sites)
    }

    /// A compile error with its instruction in the original numbering.
    public func restore(_ error: JITError) -> JITError {
        switch error {
        case .unsupportedInstruction(let pc, let what): .unsupportedInstruction(pc: originalSlot(pc), what: what)
        case .unknownHelper(let pc, let id): .unknownHelper(pc: originalSlot(pc), id: id)
        default: error
        }
    }
}

extension ExecutionError {
    /// The same error naming `map(pc)` instead of `pc`.
    public func mappingPC(_ map: (Int) -> Int) -> ExecutionError {
        switch self {
        case .outOfBounds(let pc, let address, let size, let write):
            .outOfBounds(pc: map(pc), address: address, size: size, write: write)
        case .instructionLimit(let pc, let limit): .instructionLimit(pc: map(pc), limit: limit)
        case .callDepthExceeded(let pc, let limit): .callDepthExceeded(pc: map(pc), limit: limit)
        case .unknownHelper(let pc, let id): .unknownHelper(pc: map(pc), id: id)
        case .helperFailed(let pc, let id, let message): .helperFailed(pc: map(pc), id: id, message: message)
        case .invalidProgramCounter(let pc): .invalidProgramCounter(pc: map(pc))
        case .inputTooLong: self
        case .unsupported(let pc, let what): .unsupported(pc: map(pc), what: what)
        }
    }
}

extension Program {
    /// Whether any instruction reads or writes `Register.ax` (a rewritten
    /// program: backends then keep it alive across their slow paths).
    public var usesAuxiliaryRegister: Bool {
        instructions.contains { instruction in
            switch instruction {
            case .alu(_, _, let dst, let operand), .branch(_, _, let dst, let operand, _):
                dst == .ax || operand == .register(.ax)
            case .store(_, let dst, _, let src): dst == .ax || src == .ax
            default: false
            }
        }
    }
}
