import BPFISA

/// JMP or JMP32 cases: every condition, register and immediate form. Each
/// program returns 1 if the branch is taken and 0 if not.
struct JumpCases {
    let width: Width

    var prefix: String { width == .w64 ? "jmp" : "jmp32" }

    func all() -> [GeneratedCase] {
        var cases: [GeneratedCase] = []
        for condition in JumpCondition.allCases {
            cases += registerForm(condition)
            cases += immediateForm(condition)
            cases += sourceIsDestination(condition)
        }
        return cases
    }

    /// The shared tail: `if cond goto taken; r0 = 0; exit; taken: r0 = 1; exit`.
    private func program(loading: [Instruction], branch: Instruction) -> Program {
        Program(loading + [branch, Build.mov64(.r0, 0), .exit, Build.mov64(.r0, 1), .exit])
    }

    func registerForm(_ condition: JumpCondition) -> [GeneratedCase] {
        Operands.comparisonPairs(width).enumerated().map { i, pair in
            let (a, b) = pair
            let (dst, src, _) = Operands.registers(i)
            let branch = Instruction.branch(width, condition, dst: dst, .register(src), offset: 2)
            return GeneratedCase(name: "\(prefix) j\(condition) \(dst), \(src): \(a.hex), \(b.hex)",
                                 program: program(loading: [Build.lddw(dst, a), Build.lddw(src, b)], branch: branch),
                                 expected: Reference.taken(condition, width, a, b) ? 1 : 0)
        }
    }

    func immediateForm(_ condition: JumpCondition) -> [GeneratedCase] {
        Operands.comparisonImmediatePairs(width).enumerated().map { i, pair in
            let (a, imm) = pair
            let dst = Operands.registers(i).dst
            let branch = Instruction.branch(width, condition, dst: dst, .immediate(imm), offset: 2)
            return GeneratedCase(name: "\(prefix) j\(condition) \(dst), imm: \(a.hex), \(imm)",
                                 program: program(loading: [Build.lddw(dst, a)], branch: branch),
                                 expected: Reference.taken(condition, width, a, Reference.immediate(imm, width)) ? 1 : 0)
        }
    }

    func sourceIsDestination(_ condition: JumpCondition) -> [GeneratedCase] {
        Operands.boundaries.enumerated().map { i, a in
            let dst = Operands.registers(i).dst
            let branch = Instruction.branch(width, condition, dst: dst, .register(dst), offset: 2)
            return GeneratedCase(name: "\(prefix) j\(condition) \(dst), \(dst): \(a.hex)",
                                 program: program(loading: [Build.lddw(dst, a)], branch: branch),
                                 expected: Reference.taken(condition, width, a, a) ? 1 : 0)
        }
    }
}
