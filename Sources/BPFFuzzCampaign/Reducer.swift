import BPFISA

/// Shrinks a program that shows a divergence while it still does: each
/// instruction in turn is replaced by a no-op (`ja +0`, both slots of a
/// 64-bit immediate load) and kept out if the divergence remains; at the
/// end the no-ops are removed and every jump, call and code address is
/// retargeted, which changes nothing a run does.
enum Reducer {
    /// `stillDiverges` is asked about each candidate; `budget` bounds how
    /// many times.
    static func reduce(_ program: Program, budget: Int = 400, stillDiverges: (Program) -> Bool) -> Program {
        var current = program
        var asked = 0
        var changed = true
        while changed && asked < budget {
            changed = false
            var pc = current.instructions.count - 1
            while pc >= 0 && asked < budget {
                let slots = current.instructions
                let instruction = slots[pc]
                if instruction == .immediate64Tail || instruction == .jump(offset: 0) || instruction == .exit {
                    pc -= 1
                    continue
                }
                var candidate = slots
                candidate[pc] = .jump(offset: 0)
                if instruction.slotCount == 2 { candidate[pc + 1] = .jump(offset: 0) }
                let shorter = Program(candidate, name: current.name)
                asked += 1
                if stillDiverges(shorter) {
                    current = shorter
                    changed = true
                }
                pc -= 1
            }
        }
        return compacted(current)
    }

    /// `program` without its `ja +0` no-ops, every target moved to the
    /// next instruction kept at or after it.
    static func compacted(_ program: Program) -> Program {
        let slots = program.instructions
        let removed = slots.map { $0 == .jump(offset: 0) }
        // newIndex[i]: where the first kept slot at or after i lands.
        var newIndex = [Int](repeating: 0, count: slots.count + 1)
        var kept = 0
        for i in slots.indices {
            newIndex[i] = kept
            if !removed[i] { kept += 1 }
        }
        newIndex[slots.count] = kept
        var result: [Instruction] = []
        for (pc, instruction) in slots.enumerated() where !removed[pc] {
            let newPC = result.count
            func offset(_ target: Int) -> Int { newIndex[min(max(target, 0), slots.count)] - newPC - 1 }
            switch instruction {
            case .jump:
                result.append(.jump(offset: Int16(clamping: offset(instruction.target(at: pc)!))))
            case .jumpLong:
                result.append(.jumpLong(offset: Int32(clamping: offset(instruction.target(at: pc)!))))
            case .branch(let width, let condition, let dst, let operand, _):
                result.append(.branch(width, condition, dst: dst, operand, offset: Int16(clamping: offset(instruction.target(at: pc)!))))
            case .call(.local):
                result.append(.call(.local(offset: Int32(clamping: offset(instruction.target(at: pc)!)))))
            case .loadImmediate64(let dst, .codeAddress):
                result.append(.loadImmediate64(dst: dst, .codeAddress(offset: Int32(clamping: offset(instruction.target(at: pc)!)))))
            default:
                result.append(instruction)
            }
        }
        return Program(result.isEmpty ? [.exit] : result, name: program.name)
    }
}
