import Testing
@testable import BPFISA

@Suite struct ValidationTests {
    private func decode(_ hex: String) throws(ISAError) -> Program {
        try Program(bytes: parseHex(hex + " 95 00 00 00 00 00 00 00"))
    }

    /// Each reserved field of RFC 9669 is checked; the error names instruction 0.
    @Test(arguments: [
        "07 00 01 00 01 00 00 00", "07 10 00 00 01 00 00 00", "0f 00 00 00 01 00 00 00",
        "0f 00 01 00 00 00 00 00", "dc 00 01 00 10 00 00 00", "dc 10 00 00 10 00 00 00",
        "85 01 00 00 00 00 00 00", "85 00 01 00 00 00 00 00", "95 01 00 00 00 00 00 00",
        "95 00 00 00 01 00 00 00", "05 01 00 00 00 00 00 00", "05 00 00 00 01 00 00 00",
        "15 10 00 00 00 00 00 00", "1d 00 00 00 01 00 00 00", "79 a0 f8 ff 01 00 00 00",
        "87 10 00 00 00 00 00 00", "7a 1a f8 ff 00 00 00 00", "63 1a fc ff 01 00 00 00",
        "06 00 01 00 00 00 00 00", "8d 01 00 00 01 00 00 00",
    ])
    func reservedFieldsRejected(_ hex: String) {
        #expect(throws: ISAError.self) { try decode(hex) }
        do { _ = try decode(hex) } catch { #expect(error.index == 0) }
    }

    @Test(arguments: [
        "d4 01 00 00 08 00 00 00",  // byte swap of 8 bits
        "bc 21 20 00 00 00 00 00",  // movsx32 from 32 bits
        "b7 01 08 00 00 00 00 00",  // movsx in immediate form
        "3f 21 02 00 00 00 00 00",  // div with offset 2
        "db 21 00 00 02 00 00 00",  // unknown atomic
        "d3 21 00 00 00 00 00 00",  // atomic on bytes
        "99 10 00 00 00 00 00 00",  // sign-extending load of 8 bytes
        "8c 01 00 00 00 00 00 00",  // neg in register form
        "df 01 00 00 10 00 00 00",  // bswap in register form
        "e7 01 00 00 00 00 00 00",  // no such ALU operation
        "0e 01 00 00 00 00 00 00",  // JMP32 JA register form
        "86 00 00 00 00 00 00 00",  // JMP32 call
        "96 00 00 00 00 00 00 00",  // JMP32 exit
        "85 30 00 00 00 00 00 00",  // call kind 3
        "20 00 00 00 00 00 00 00",  // LD ABS
        "07 0b 00 00 01 00 00 00",  // register r11
        "ff 00 00 00 00 00 00 00",  // unknown opcode
    ])
    func invalidEncodingsRejected(_ hex: String) {
        #expect(throws: ISAError.self) { try decode(hex) }
    }

    @Test func immediate64NeedsWellFormedSecondSlot() {
        #expect(throws: ISAError.malformedImmediate64(index: 0, reason: "is missing its second slot")) {
            try Program(bytes: parseHex("18 01 00 00 01 00 00 00"))
        }
        #expect(throws: ISAError.self) { try decode("18 01 00 00 01 00 00 00 95 00 00 00 00 00 00 00") }
        #expect(throws: ISAError.self) { try decode("18 11 00 00 01 00 00 00 00 00 00 00 05 00 00 00") }
    }

    @Test func pseudoImmediateKindsCarried() throws {
        let kinds: [Immediate64] = [
            .mapByFD(7), .mapValueByFD(fd: 7, offset: 16), .variable(btfID: 3, btfFD: 4),
            .codeAddress(offset: 0), .mapByIndex(2), .mapValueByIndex(index: 2, offset: 8),
        ]
        for kind in kinds {
            let program = Program([.loadImmediate64(dst: .r1, kind), .exit, .exit])
            let decoded = try Program(bytes: program.bytes())
            #expect(decoded.instructions[0] == .loadImmediate64(dst: .r1, kind))
        }
    }

    @Test func truncatedAndEmptyBytes() {
        #expect(throws: ISAError.truncatedBytes(count: 7)) { try Program(bytes: [0x95, 0, 0, 0, 0, 0, 0]) }
        #expect(throws: ISAError.emptyProgram) { try Program(bytes: []) }
    }

    @Test func structuralChecks() {
        #expect(throws: ISAError.badJumpTarget(index: 0, target: 5, count: 2)) {
            try Program([.jump(offset: 4), .exit]).validate()
        }
        #expect(throws: ISAError.badJumpTarget(index: 0, target: 2, count: 4)) {
            try Program([.jump(offset: 1), .loadImmediate64(dst: .r0, .value(1)), .exit]).validate()
        }
        #expect(throws: ISAError.fallsOffEnd(index: 1)) {
            try Program([.alu(.w64, .mov, dst: .r0, .immediate(0)), .alu(.w64, .add, dst: .r0, .immediate(1))]).validate()
        }
        #expect(throws: ISAError.fallsOffEnd(index: 0)) {
            try Program([.branch(.w64, .eq, dst: .r0, .immediate(0), offset: -1)]).validate()
        }
        #expect(throws: ISAError.writesFramePointer(index: 0)) {
            try Program([.alu(.w64, .mov, dst: .r10, .immediate(0)), .exit]).validate()
        }
        #expect(throws: ISAError.badJumpTarget(index: 0, target: -1, count: 2)) {
            try Program([.call(.local(offset: -2)), .exit]).validate()
        }
        // A function entered by a local call must be preceded by an instruction that ends a block.
        #expect(throws: ISAError.fallsOffEnd(index: 1)) {
            try Program([.call(.local(offset: 1)), .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit]).validate()
        }
        #expect(throws: Never.self) {
            try Program([.call(.local(offset: 1)), .exit, .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit]).validate()
        }
    }

    @Test func functionEntries() {
        let program = Program([.call(.local(offset: 2)), .exit, .exit, .call(.local(offset: -4)), .exit])
        #expect(program.functionEntries == [0, 3])
    }
}

/// `Instruction.successors(at:)` against RFC 9669's control flow: offsets
/// count from the next instruction, a 64-bit immediate load spans two
/// slots, a call returns to the next slot and `exit` leaves the function.
@Suite struct SuccessorTests {
    @Test func successorsFollowTheRFC() throws {
        let program = try Program(bytes: parseHex([
            "15 01 02 00 00 00 00 00",
            "18 01 00 00 2a 00 00 00 00 00 00 00 00 00 00 00",
            "05 00 ff ff 00 00 00 00",
            "85 00 00 00 01 00 00 00",
            "95 00 00 00 00 00 00 00",
        ].joined(separator: " ")))
        let instructions = program.instructions
        #expect(instructions[0].successors(at: 0) == [1, 3])  // if r1 == 0 goto +2
        #expect(instructions[1].successors(at: 1) == [3])     // lddw: two slots
        #expect(instructions[3].successors(at: 3) == [3])     // goto -1: itself
        #expect(instructions[4].successors(at: 4) == [5])     // call returns here
        #expect(instructions[5].successors(at: 5) == [])      // exit
    }
}
