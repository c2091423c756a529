/// A sequence of eBPF instructions, indexed by 8-byte slot.
///
/// `instructions[pc]` is the instruction at slot `pc`; the second slot of a
/// 64-bit immediate load holds `.immediate64Tail`. Programs are values: the
/// loader's rewrites (map relocation, context rewriting, constant blinding)
/// produce new programs.
public struct Program: Sendable, Hashable {
    /// Instructions by slot index.
    public private(set) var instructions: [Instruction]
    /// A name for messages (section or function name, file name).
    public var name: String

    /// Builds a program from logical instructions; the second slot of every
    /// 64-bit immediate load is inserted here. `.immediate64Tail` entries in the
    /// input are dropped, so slot-indexed arrays round-trip too.
    public init(_ logical: [Instruction], name: String = "program") {
        var slots: [Instruction] = []
        slots.reserveCapacity(logical.count)
        for instruction in logical where instruction != .immediate64Tail {
            slots.append(instruction)
            if case .loadImmediate64 = instruction { slots.append(.immediate64Tail) }
        }
        self.instructions = slots
        self.name = name
    }

    /// Decodes raw slots, checking every field; throws naming the first bad slot.
    public init(raw: [RawInstruction], name: String = "program") throws(ISAError) {
        guard !raw.isEmpty else { throw .emptyProgram }
        var slots: [Instruction] = []
        slots.reserveCapacity(raw.count)
        var pc = 0
        while pc < raw.count {
            let instruction = try Instruction.decode(raw, at: pc)
            slots.append(instruction)
            if instruction.slotCount == 2 { slots.append(.immediate64Tail) }
            pc += instruction.slotCount
        }
        self.instructions = slots
        self.name = name
    }

    /// Decodes the wire form: a multiple of 8 bytes in the given byte order.
    public init(bytes: [UInt8], byteOrder: ByteOrder = .little, name: String = "program") throws(ISAError) {
        guard bytes.count % 8 == 0 else { throw .truncatedBytes(count: bytes.count) }
        let raw = stride(from: 0, to: bytes.count, by: 8).map {
            RawInstruction(bytes: bytes[$0..<$0 + 8], byteOrder: byteOrder)
        }
        try self.init(raw: raw, name: name)
    }

    /// Number of slots.
    public var count: Int { instructions.count }

    /// The raw slots, 64-bit immediate loads taking two.
    public var raw: [RawInstruction] { instructions.flatMap(\.encoded) }

    /// The wire form in the given byte order.
    public func bytes(_ byteOrder: ByteOrder = .little) -> [UInt8] {
        raw.flatMap { $0.bytes(byteOrder) }
    }

    /// Replaces the instruction at slot `pc` with one of the same slot count
    /// (the loader's rewrites of map references and context fields).
    public mutating func replace(at pc: Int, with instruction: Instruction) {
        precondition(instruction.slotCount == instructions[pc].slotCount, "a rewrite must keep the slot layout")
        instructions[pc] = instruction
    }

    /// Slot indices where functions start: 0, then every local call target, sorted.
    public var functionEntries: [Int] {
        var entries: Set<Int> = [0]
        for (pc, instruction) in instructions.enumerated() {
            if case .call(.local) = instruction, let target = instruction.target(at: pc) { entries.insert(target) }
            if case .loadImmediate64(_, .codeAddress) = instruction, let target = instruction.target(at: pc) { entries.insert(target) }
        }
        return entries.sorted()
    }

    /// Structural checks every engine relies on: jumps and local calls land on
    /// an instruction inside the program (never on the second half of a 64-bit
    /// load), no instruction writes r10, and the last instruction of the program
    /// and of each function cannot fall through. Jumps stay inside their
    /// function (functions: the entry and every local-call target, each
    /// running to the next one), as the kernel's "jump out of range": a jump
    /// into another function's body would run its epilogue with this frame.
    public func validate() throws(ISAError) {
        guard !instructions.isEmpty else { throw .emptyProgram }
        let entries = functionEntries   // sorted: walked alongside pc, no hashing per slot
        var nextEntry = 0
        var function = 0   // entries[function] <= pc < entries[function + 1]
        for (pc, instruction) in instructions.enumerated() {
            while function + 1 < entries.count && entries[function + 1] <= pc { function += 1 }
            if let target = instruction.target(at: pc) {
                guard target >= 0, target < count, instructions[target] != .immediate64Tail else {
                    throw .badJumpTarget(index: pc, target: target, count: count)
                }
                switch instruction {
                case .jump, .jumpLong, .branch:
                    let end = function + 1 < entries.count ? entries[function + 1] : count
                    guard target >= entries[function], target < end else {
                        throw .jumpOutOfFunction(index: pc, target: target, function: entries[function], end: end)
                    }
                default:
                    break
                }
            }
            if instruction.writesRegister == .r10 { throw .writesFramePointer(index: pc) }
            // The instruction before a function entry (and the last one) must end its block.
            let next = pc + instruction.slotCount
            while nextEntry < entries.count && entries[nextEntry] < next { nextEntry += 1 }
            let entersFunction = nextEntry < entries.count && entries[nextEntry] == next
            if instruction != .immediate64Tail, next == count || entersFunction, !instruction.endsBlock {
                throw .fallsOffEnd(index: pc)
            }
        }
    }
}

extension Instruction {
    /// The register this instruction writes, if any (helper calls write r0–r5 and are not listed).
    @inlinable public var writesRegister: Register? {
        switch self {
        case .alu(_, _, let dst, _), .neg(_, let dst), .movsx(_, let dst, _, _), .byteSwap(_, let dst, _),
             .loadImmediate64(let dst, _), .load(_, let dst, _, _), .loadSignExtend(_, let dst, _, _):
            dst
        case .atomic(_, .cmpxchg, _, _, _):
            .r0
        case .atomic(_, let op, _, _, let src) where op.fetches:
            src
        default:
            nil
        }
    }
}

extension Instruction {
    /// One bit per register any field of the instruction names (bit n for rN):
    /// what the JIT backends clear at entry and track for liveness.
    @inlinable public var namedRegisters: UInt16 {
        switch self {
        case .alu(_, _, let dst, .register(let src)), .branch(_, _, let dst, .register(let src), _),
             .movsx(_, let dst, let src, _), .load(_, let dst, let src, _), .loadSignExtend(_, let dst, let src, _),
             .store(_, let dst, _, let src), .atomic(_, _, let dst, _, let src):
            1 << dst.rawValue | 1 << src.rawValue
        case .alu(_, _, let dst, .immediate), .branch(_, _, let dst, .immediate, _), .neg(_, let dst),
             .byteSwap(_, let dst, _), .loadImmediate64(let dst, _), .storeImmediate(_, let dst, _, _):
            1 << dst.rawValue
        case .call(.register(let r)):
            1 << r.rawValue
        default:
            0
        }
    }
}
