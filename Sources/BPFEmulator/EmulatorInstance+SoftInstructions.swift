import CUnicorn

extension EmulatorInstance {
    /// RISC-V's illegal-instruction exception (mcause 2).
    static let riscvIllegalInstruction: UInt32 = 2

    /// Performs the instruction the CPU just refused, when the architecture
    /// names it among its soft instructions: reads its source registers,
    /// writes its result and resumes at the next instruction. False (the
    /// run stops as for any fault) for every other instruction, and once
    /// the run is stopping anyway (a budget or an error; writing the
    /// program counter would resume it).
    ///
    /// The instruction is the one the code hook saw last (`counter.lastAddress`):
    /// Unicorn's own program counter is not exact in an exception hook.
    func performSoftInstruction(exception: UInt32?) -> Bool {
        guard case .riscvBitManipulation(let zba, let zbb)? = architecture.softInstructions,
              exception == nil || exception == Self.riscvIllegalInstruction,
              state.stop == nil, !counter.limitReached else { return false }
        let address = counter.lastAddress
        guard let bytes = unicorn.readMemory(address, count: 4) else { return false }
        let word = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
        guard let instruction = RISCVBitManipulation.decode(word) else { return false }
        switch instruction.operation.extension {
        case .zba: guard zba else { return false }
        case .zbb: guard zbb else { return false }
        }
        let value = instruction.result { unicorn.read(Self.riscvRegister($0)) }
        if instruction.rd != 0 { unicorn.write(Self.riscvRegister(instruction.rd), value) }
        unicorn.write(architecture.programCounter, address &+ 4)
        return true
    }

    static func riscvRegister(_ number: UInt32) -> EmulatedRegister {
        EmulatedRegister("x\(number)", unicornID: Int32(UC_RISCV_REG_X0.rawValue) + Int32(number))
    }
}
