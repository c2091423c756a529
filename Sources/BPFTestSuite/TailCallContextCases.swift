import BPFISA

/// Tail calls whose r1 is not the program's context pointer, for every
/// engine: each must stop with `ExecutionError.tailCallContextMismatch` at
/// the `call 12` (whether or not the slot holds a program), and a call
/// whose r1 was changed and then restored must go through. Slot 1 of map 0
/// holds a program returning 7; slot 5 is empty.
public enum TailCallContextCases {
    public struct Case: Sendable, CustomStringConvertible {
        public let name: String
        public let caller: Program
        /// nil: the run must stop at the tail call; else the r0 it returns.
        public let returns: UInt64?
        public var description: String { name }

        /// The slot of the (first) tail call.
        public var callPC: Int { caller.instructions.firstIndex(of: .tailCallHelper)! }
    }

    static func caller(_ prefix: [Instruction], index: Int32 = 1, name: String) -> Program {
        Code {
            for instruction in prefix { instruction }
            Code.Item.tailCall(index: index)
            Instruction.mov(.r0, 99)
            Instruction.exit
        }.program(name)
    }

    public static var all: [Case] {
        [
            Case(name: "r1 moved 8 bytes into the input", caller: caller([.add(.r1, 8)], name: "moved"), returns: nil),
            Case(name: "r1 = r10", caller: caller([.mov(.r1, .r10)], name: "stack"), returns: nil),
            Case(name: "r1 = 0x41414141", caller: caller([.mov(.r1, 0x4141_4141)], name: "constant"), returns: nil),
            Case(name: "r1 moved, empty slot", caller: caller([.add(.r1, 8)], index: 5, name: "empty"), returns: nil),
            Case(name: "r1 moved, index in a register",
                 caller: Code {
                     Instruction.add(.r1, 8)
                     Instruction.mov(.r7, 1)
                     Code.Item.tailCall(indexIn: .r7)
                     Instruction.mov(.r0, 99)
                     Instruction.exit
                 }.program("indirect"), returns: nil),
            Case(name: "r1 moved in a subprogram",
                 caller: Program([.call(.local(offset: 1)), .exit,
                                  .add(.r1, 8), .loadImmediate64(dst: .r2, .mapByIndex(0)), .immediate64Tail,
                                  .mov(.r3, 1), .tailCallHelper, .mov(.r0, 99), .exit], name: "subprogram"),
                 returns: nil),
            Case(name: "r1 changed and restored", caller: caller([.mov(.r6, .r1), .add(.r1, 8), .mov(.r1, .r6)], name: "restored"),
                 returns: 7),
            Case(name: "r1 unchanged, empty slot", caller: caller([], index: 5, name: "fallthrough"), returns: 99),
        ]
    }
}
