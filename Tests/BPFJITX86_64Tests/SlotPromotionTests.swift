import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFNativeDisassembler
import BPFRuntime
import BPFTestSuite
import Testing

/// Stack slots in host registers (`X86SlotPromotion`): a slot only its own
/// loads and stores reach lives in a register (no `[rbp - k]` left in the
/// image), and every way something else could read or write the slot (its
/// address copied, passed to a helper or a callee, a narrower or wider
/// access, an atomic, a sign-extending load) keeps it in memory; scratch
/// registers are used only where nothing else needs them (division,
/// constant blinding). Results are the interpreter's on several inputs.
@Suite struct SlotPromotionTests {
    /// Every default pattern and slot promotion (off by default).
    static let slots = JITOptions(instructionSelection: JITInstructionSelection.all.union(.slots))
    static let inputs: [UInt64] = [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x1_0000_0001, 0xdead_beef_cafe_f00d, UInt64.max]

    /// A loop of 50 iterations (counter r4) that multiplies-adds slot -8
    /// (u64) with r2 and adds its low half to slot -16 (u32); `body` is
    /// spliced into the loop after those updates, `tail` before the final
    /// loads. r0 = slot -8 ^ slot -16. Names r0 and r2–r5 (r6–r9 free)
    /// plus what `body` and `tail` name.
    static func loop(body: [Instruction] = [], tail: [Instruction] = [], prefix: [Instruction] = []) -> [Instruction] {
        var program: [Instruction] = prefix + [
            .ld64(.r3, 0x0123_4567_89ab_cdef),
            .store(.double, dst: .r10, offset: -8, src: .r3),
            .storeImmediate(.word, dst: .r10, offset: -16, imm: 7),
            .mov64(.r4, 50),
        ]
        let head = program.count
        program += [
            .load(.double, dst: .r3, src: .r10, offset: -8),
            .alu(.w64, .mul, dst: .r3, .immediate(3)),
            .alu(.w64, .add, dst: .r3, .register(.r2)),
            .store(.double, dst: .r10, offset: -8, src: .r3),
            .load(.word, dst: .r5, src: .r10, offset: -16),
            .alu(.w32, .add, dst: .r5, .register(.r3)),
            .store(.word, dst: .r10, offset: -16, src: .r5),
        ]
        program += body
        program.append(.alu(.w64, .sub, dst: .r4, .immediate(1)))
        let branch = program.count
        program.append(.branch(.w64, .ne, dst: .r4, .immediate(0), offset: Int16(head - branch - 1)))
        program += tail
        program += [
            .load(.double, dst: .r0, src: .r10, offset: -8),
            .load(.word, dst: .r5, src: .r10, offset: -16),
            .alu(.w64, .xor, dst: .r0, .register(.r5)),
            .exit,
        ]
        return program
    }

    static func configuration(_ program: Program, proofs: Bool, hardened: Bool = false,
                              helpers: [Helper] = []) -> EngineConfiguration {
        var configuration = EngineConfiguration(helpers: HelperRegistry(helpers), instructionLimit: 100_000,
                                                proofs: proofs ? TestProofs.full(program, maxInstructions: 100_000,
                                                                                 registersInitialized: false) : nil)
        configuration.hardened = hardened
        return configuration
    }

    /// The native instructions of the program's (first) loop, one a line:
    /// from the target of the first backward branch to that branch.
    static func listing(_ program: Program, proofs: Bool, hardened: Bool = false, helpers: [Helper] = [],
                        options: JITOptions = slots) throws -> String {
        let image = try X86_64JIT.assemble(program, configuration: configuration(program, proofs: proofs, hardened: hardened,
                                                                                 helpers: helpers),
                                           options: options, at: 0x1000_0000)
        var range = 0..<image.bytes.count
        for (pc, instruction) in program.instructions.enumerated() {
            if let target = instruction.target(at: pc), target <= pc {
                range = image.nativeRange(of: target).lowerBound..<image.nativeRange(of: pc).upperBound
                break
            }
        }
        let disassembler = try NativeDisassembler(.x86_64)
        return disassembler.disassemble(Array(image.bytes[range]), address: 0x1000_0000).map(\.text).joined(separator: "\n")
    }

    /// Runs on the JIT (with or without proofs, hardened or not) and on the
    /// interpreter for every input r2 (r1 = 0); returns the mismatches.
    static func mismatches(_ instructions: [Instruction], proofs: Bool, hardened: Bool = false, helpers: [Helper] = [],
                           options: JITOptions = slots) throws -> [String] {
        let program = Program(instructions)
        let jit = try X86_64JIT(options: options).prepare(program, configuration: configuration(program, proofs: proofs, hardened: hardened,
                                                                                                helpers: helpers))
        let interpreter = try Interpreter().prepare(program, configuration: EngineConfiguration(helpers: HelperRegistry(helpers)))
        var mismatches: [String] = []
        for r2 in inputs {
            let input = RunInput(r1: 0, r2: r2, regions: MemoryRegions([]))
            let expected = Result(catching: { try interpreter.run(input) }), got = Result(catching: { try jit.run(input) })
            switch (expected, got) {
            case (.success(let a), .success(let b)) where a == b: break
            case (.failure, .failure): break
            default: mismatches.append("r2=\(r2): jit \(got), interpreter \(expected)")
            }
        }
        return mismatches
    }

    /// Adds 5 to the u64 its first argument points to; returns the old value.
    static let bump = Helper(id: 1, name: "bump", prototype: HelperPrototype([.pointer(readOnly: false)], returns: .scalar(bits: 64))) { (call) throws(HelperError) -> UInt64 in
        let address = call.argument(1)
        let old = try call.memory.load(UInt64.self, at: address)
        try call.memory.store(old &+ 5, at: address)
        return old
    }

    @Test func slotsOnlyTheirOwnAccessesReachLiveInRegisters() throws {
        let program = Self.loop()
        for proofs in [false, true] {
            let code = try Self.listing(Program(program), proofs: proofs)
            #expect(!code.contains("[rbp - 8]") && !code.contains("[rbp - 0x10]"), "proofs \(proofs):\n\(code)")
            let wrong = try Self.mismatches(program, proofs: proofs)
            #expect(wrong.isEmpty, "proofs \(proofs): \(wrong.prefix(3))")
        }
        // With proofs (no run context, nothing else in r9 and r10), the scratch registers hold them.
        let proven = try Self.listing(Program(program), proofs: true)
        #expect(proven.contains("r9") && proven.contains("r10"), "\(proven)")
        // Turned off (the default), the slots stay in memory.
        let off = JITOptions()
        let plain = try Self.listing(Program(program), proofs: true, options: off)
        #expect(plain.contains("[rbp - 8]") && plain.contains("[rbp - 0x10]"))
        #expect(try Self.mismatches(program, proofs: true, options: off).isEmpty)
    }

    /// Folded loads (`op dst, [m]` and `cmp dst, [m]`) of a promoted slot read its register.
    @Test func foldedLoadsOfAPromotedSlotReadTheRegister() throws {
        for operation: ALUOperation in [.add, .sub, .and, .or, .xor, .mul] {
            for width in [Width.w64, .w32] {
                // r5 = slot -24 (loaded once per iteration, dead after), r3 op= r5; slot -24 = r3.
                let body: [Instruction] = [
                    .load(width == .w64 ? .double : .word, dst: .r5, src: .r10, offset: -24),
                    .alu(width, operation, dst: .r3, .register(.r5)),
                    .store(width == .w64 ? .double : .word, dst: .r10, offset: -24, src: .r3),
                    .load(width == .w64 ? .double : .word, dst: .r5, src: .r10, offset: -24),
                    .branch(width, .gt, dst: .r2, .register(.r5), offset: 1),
                    .alu(.w64, .add, dst: .r3, .immediate(1)),
                ]
                let size: AccessSize = width == .w64 ? .double : .word
                let program = Self.loop(body: body, tail: [.load(size, dst: .r2, src: .r10, offset: -24)],
                                        prefix: [.storeImmediate(size, dst: .r10, offset: -24, imm: -3)])
                for proofs in [false, true] {
                    let code = try Self.listing(Program(program), proofs: proofs)
                    #expect(!code.contains("rbp - 0x18"), "\(operation) \(width) proofs \(proofs):\n\(code)")
                    let wrong = try Self.mismatches(program, proofs: proofs)
                    #expect(wrong.isEmpty, "\(operation) \(width) proofs \(proofs): \(wrong.prefix(3))")
                }
            }
        }
    }

    /// The address of slot -8 in r1, and the loop also adds 1 through it:
    /// the register would miss that write.
    @Test func aSlotWhoseAddressIsTakenStaysInMemory() throws {
        let program = Self.loop(body: [.load(.double, dst: .r5, src: .r1, offset: 0),
                                       .alu(.w64, .add, dst: .r5, .immediate(1)),
                                       .store(.double, dst: .r1, offset: 0, src: .r5)],
                                prefix: [.mov64(.r1, .r10), .alu(.w64, .add, dst: .r1, .immediate(-8))])
        for proofs in [false, true] {
            let code = try Self.listing(Program(program), proofs: proofs)
            #expect(code.contains("[rbp - 8]"), "proofs \(proofs):\n\(code)")
            let wrong = try Self.mismatches(program, proofs: proofs)
            #expect(wrong.isEmpty, "proofs \(proofs): \(wrong.prefix(3))")
        }
    }

    /// A helper gets the slot's address and adds 5 to it every iteration.
    @Test func aSlotPassedToAHelperStaysInMemory() throws {
        // r6 counts; slot -8 += r6 each iteration, then bump(&slot).
        let program: [Instruction] = [
            .storeImmediate(.double, dst: .r10, offset: -8, imm: 1),
            .mov64(.r6, 20),
            .load(.double, dst: .r0, src: .r10, offset: -8),
            .alu(.w64, .add, dst: .r0, .register(.r6)),
            .store(.double, dst: .r10, offset: -8, src: .r0),
            .mov64(.r1, .r10),
            .alu(.w64, .add, dst: .r1, .immediate(-8)),
            .call(.helper(1)),
            .alu(.w64, .sub, dst: .r6, .immediate(1)),
            .branch(.w64, .ne, dst: .r6, .immediate(0), offset: -8),
            .load(.double, dst: .r0, src: .r10, offset: -8),
            .exit,
        ]
        let code = try Self.listing(Program(program), proofs: false, helpers: [Self.bump])
        #expect(code.contains("[rbp - 8]"), "\(code)")
        let wrong = try Self.mismatches(program, proofs: false, helpers: [Self.bump])
        #expect(wrong.isEmpty, "\(wrong.prefix(3))")
    }

    /// Reads of part of the slot, writes of part of it, a wider access over
    /// it, a sign-extending load and an atomic: each keeps the slot in memory.
    @Test func otherAccessesOverlappingASlotKeepItInMemory() throws {
        let cases: [(String, body: [Instruction], tail: [Instruction])] = [
            ("byte read after the loop", [], [.load(.byte, dst: .r2, src: .r10, offset: -7), .store(.double, dst: .r10, offset: -8, src: .r2)]),
            ("half-word write in the loop", [.store(.half, dst: .r10, offset: -6, src: .r4)], []),
            ("u64 read over the u32 slot", [], [.storeImmediate(.word, dst: .r10, offset: -12, imm: 0x55),
                                                .load(.double, dst: .r2, src: .r10, offset: -16), .store(.word, dst: .r10, offset: -16, src: .r2),
                                                .alu(.w64, .rsh, dst: .r2, .immediate(32)), .store(.double, dst: .r10, offset: -8, src: .r2)]),
            ("u32 write into the u64 slot", [.store(.word, dst: .r10, offset: -4, src: .r4)], []),
            ("sign-extending load", [], [.loadSignExtend(.word, dst: .r2, src: .r10, offset: -16), .store(.double, dst: .r10, offset: -8, src: .r2)]),
            ("atomic add", [.atomic(.w64, .add(fetch: false), dst: .r10, offset: -8, src: .r4)], []),
        ]
        for (name, body, tail) in cases {
            let program = Self.loop(body: body, tail: tail)
            for proofs in [false, true] {
                let wrong = try Self.mismatches(program, proofs: proofs)
                #expect(wrong.isEmpty, "\(name), proofs \(proofs): \(wrong.prefix(3))")
            }
        }
    }

    /// A callee reads the caller's slot through its own frame pointer
    /// (`*(u64 *)(r10 + 504)`: the frame above, with no copy of r10
    /// anywhere) each iteration; local calls keep every slot in memory.
    @Test func aSlotACalleeReachesStaysInMemory() throws {
        // Callee at the end: r0 = *(u64 *)(r10 + 504) + 1, into the caller's slot -16 (u32).
        let main: [Instruction] = [
            .storeImmediate(.double, dst: .r10, offset: -8, imm: 3),
            .mov64(.r6, 10),
            .load(.double, dst: .r7, src: .r10, offset: -8),
            .alu(.w64, .mul, dst: .r7, .immediate(5)),
            .store(.double, dst: .r10, offset: -8, src: .r7),
            .call(.local(offset: 6)),
            .store(.word, dst: .r10, offset: -16, src: .r0),
            .alu(.w64, .sub, dst: .r6, .immediate(1)),
            .branch(.w64, .ne, dst: .r6, .immediate(0), offset: -7),
            .load(.word, dst: .r0, src: .r10, offset: -16),
            .alu(.w64, .xor, dst: .r0, .register(.r7)),
            .exit,
            // callee
            .load(.double, dst: .r0, src: .r10, offset: 504),
            .alu(.w64, .add, dst: .r0, .immediate(1)),
            .exit,
        ]
        let program = Program(main)
        let interpreter = try Interpreter().prepare(program, configuration: EngineConfiguration())
        // The interpreter's own result: the callee saw the caller's slot (3 · 5^10 + 1, low 32 bits, ^ 3 · 5^10).
        let value: UInt64 = 3 * 9_765_625
        #expect(try interpreter.run(RunInput(r1: 0, r2: 0, regions: MemoryRegions([]))) == UInt64(UInt32(truncatingIfNeeded: value + 1)) ^ value)
        let wrong = try Self.mismatches(main, proofs: false)
        #expect(wrong.isEmpty, "\(wrong.prefix(3))")
    }

    /// Division uses r9 and r10 (the saved rdx and rax): with a division in
    /// the loop the slots take callee-saved registers, not those.
    @Test func divisionKeepsTheScratchRegistersFree() throws {
        let program = Self.loop(body: [.mov64(.r5, .r3), .alu(.w64, .div, dst: .r5, .immediate(7)),
                                       .alu(.w64, .mod, dst: .r3, .register(.r4)), .alu(.w64, .add, dst: .r3, .register(.r5)),
                                       .store(.double, dst: .r10, offset: -8, src: .r3)])
        let code = try Self.listing(Program(program), proofs: true)
        #expect(!code.contains("[rbp - 8]"), "\(code)")
        let wrong = try Self.mismatches(program, proofs: true)
        #expect(wrong.isEmpty, "\(wrong.prefix(3))")
    }

    /// Constant blinding computes every constant in r9 (the auxiliary
    /// register): the slots must not live there.
    @Test func blindingKeepsTheAuxiliaryRegisterFree() throws {
        let program = Self.loop(body: [.alu(.w64, .xor, dst: .r3, .immediate(0x1234_5678)),
                                       .store(.double, dst: .r10, offset: -8, src: .r3),
                                       .storeImmediate(.word, dst: .r10, offset: -16, imm: 0x0bad_cafe)])
        for proofs in [false, true] {
            let code = try Self.listing(Program(program), proofs: proofs, hardened: true)
            #expect(!code.contains("[rbp - 8]"), "proofs \(proofs):\n\(code)")
            let wrong = try Self.mismatches(program, proofs: proofs, hardened: true)
            #expect(wrong.isEmpty, "proofs \(proofs): \(wrong.prefix(3))")
        }
    }

    /// Off by default; `BPFKIT_X86_PEEPHOLES` names it `slots`.
    @Test func offByDefaultAndNamedSlots() {
        #expect(!JITInstructionSelection.all.contains(.slots))
        #expect(JITInstructionSelection(environmentValue: "slots") == .slots)
        #expect(JITInstructionSelection(environmentValue: "select,lea,fold,slots") == JITInstructionSelection.all.union(.slots))
    }

    /// A slot only read before the loop (or only outside loops) stays in memory;
    /// with every r6–r9 named and a run context, nothing is free either.
    @Test func noFreeRegisterOrNoLoopMeansNoPromotion() throws {
        let straight: [Instruction] = [
            .storeImmediate(.double, dst: .r10, offset: -8, imm: 9),
            .load(.double, dst: .r0, src: .r10, offset: -8),
            .exit,
        ]
        #expect(try Self.listing(Program(straight), proofs: true).contains("[rbp - 8]"))
        #expect(try Self.mismatches(straight, proofs: true).isEmpty)
        let busy = Self.loop(prefix: [.mov64(.r6, 1), .mov64(.r7, 2), .mov64(.r8, 3), .mov64(.r9, 4)])
        #expect(try Self.listing(Program(busy), proofs: false).contains("[rbp - 8]"))
        #expect(try Self.mismatches(busy, proofs: false).isEmpty)
    }
}
