import BPFISA

/// The slots control may go to after an instruction, without the array
/// `Instruction.successors(at:)` allocates: the dataflow analyses a compile
/// runs (registers, stack initialization, upper halves) visit every slot
/// one or more times, and an allocation per visit was a large part of a
/// compile (docs/PERFORMANCE.md, *Compile time*).
public struct JITSuccessors: Sequence, IteratorProtocol {
    @usableFromInline var first: Int
    @usableFromInline var second: Int

    @inlinable init(_ first: Int, _ second: Int) {
        self.first = first
        self.second = second
    }

    /// The next successor: the fall-through slot first, as `successors(at:)` lists them.
    @inlinable
    public mutating func next() -> Int? {
        if first != Int.min {
            defer { first = Int.min }
            return first
        }
        if second != Int.min {
            defer { second = Int.min }
            return second
        }
        return nil
    }
}

extension Instruction {
    /// `successors(at:)` without allocating: nothing after `exit`, the target
    /// of a jump, the next slot and the target of a branch, else the next slot.
    @inlinable
    public func jitSuccessors(at pc: Int) -> JITSuccessors {
        switch self {
        case .exit: JITSuccessors(Int.min, Int.min)
        case .jump(let offset): JITSuccessors(pc + 1 + Int(offset), Int.min)
        case .jumpLong(let offset): JITSuccessors(pc + 1 + Int(offset), Int.min)
        case .branch(_, _, _, _, let offset): JITSuccessors(pc + 1, pc + 1 + Int(offset))
        case .loadImmediate64: JITSuccessors(pc + 2, Int.min)
        default: JITSuccessors(pc + 1, Int.min)
        }
    }
}
