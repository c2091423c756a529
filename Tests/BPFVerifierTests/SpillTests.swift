import BPFISA
import BPFLoader
import BPFVerifier
import Testing

/// Registers spilled to 8-byte stack slots and filled back (the kernel's
/// spilled register state): what comes back is what was stored, linked to
/// the register, and only while nothing else may have written the slot.
/// Each program writes through `r10 - 64 + fill`, an 8-byte store that is
/// inside the frame exactly when the filled number is at most 56; each is
/// next to a variant that must stay checked.
struct SpillTests {
    /// Slot of the last access of `instructions` (the write through the filled number).
    func lastAccess(_ instructions: [Instruction]) -> Int {
        var pc = 0, last = -1
        for i in instructions {
            switch i {
            case .load, .loadSignExtend, .store, .storeImmediate, .atomic: last = pc
            default: break
            }
            pc += i.slotCount
        }
        return last
    }

    /// `prefix`, then r3 filled from r10 - 8, then `*(u64 *)(r10 - 64 + r3) = 1`, then exit 0.
    func program(_ prefix: [Instruction]) -> [Instruction] {
        prefix + [
            .load(.double, dst: .r3, src: .r10, offset: -8),
            .alu(.w64, .mov, dst: .r4, .register(.r10)),
            .alu(.w64, .add, dst: .r4, .immediate(-64)),
            .alu(.w64, .add, dst: .r4, .register(.r3)),
            .storeImmediate(.double, dst: .r4, offset: 0, imm: 1),
            .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit,
        ]
    }

    func proven(_ prefix: [Instruction]) throws -> Bool {
        let instructions = program(prefix)
        let report = try verifyXDP(instructions).verification
        return report.proofs.isSafeAccess(at: lastAccess(instructions))
    }

    @Test func aSpilledConstantComesBack() throws {
        let spill56: [Instruction] = [.alu(.w64, .mov, dst: .r2, .immediate(56)), .store(.double, dst: .r10, offset: -8, src: .r2)]
        #expect(try proven(spill56))
        #expect(try proven([.storeImmediate(.double, dst: .r10, offset: -8, imm: 56)]))
        // One past: the write would end 1 byte above r10.
        #expect(try !proven([.alu(.w64, .mov, dst: .r2, .immediate(57)), .store(.double, dst: .r10, offset: -8, src: .r2)]))
        #expect(try !proven([.storeImmediate(.double, dst: .r10, offset: -8, imm: 57)]))
        // A later spill replaces the first (60: the write would straddle
        // r10, not proven; one wholly above the stack would be refused).
        #expect(try !proven(spill56 + [.storeImmediate(.double, dst: .r10, offset: -8, imm: 60)]))
    }

    /// A spilled number keeps its link (`ScalarLink`) after every register
    /// that shared it is overwritten: a new link must not reuse its id, or
    /// a bound learned on the new one would reach the slot. The attack
    /// spills r6 (linked), clears r6 and r0, spills an unrelated r7 (a new
    /// link) and bounds r7; the slot filled back stays unknown. The
    /// control bounds r6 itself before clearing it.
    @Test func aNewLinkIsNotOneASpilledSlotHolds() throws {
        let start: [Instruction] = [
            .call(.helper(5)),
            .alu(.w64, .mov, dst: .r7, .register(.r0)), .alu(.w64, .rsh, dst: .r7, .immediate(1)),
            .alu(.w64, .mov, dst: .r6, .register(.r0)),
            .store(.double, dst: .r10, offset: -8, src: .r6),
        ]
        let clear: [Instruction] = [.alu(.w64, .mov, dst: .r6, .immediate(0)), .alu(.w64, .mov, dst: .r0, .immediate(0))]
        // Past the fill and the write, to `r0 = 0; exit`.
        let attack = start + clear + [
            .store(.double, dst: .r10, offset: -16, src: .r7),
            .branch(.w64, .gt, dst: .r7, .immediate(56), offset: 5),
        ]
        #expect(try !proven(attack))
        let control = start + [.branch(.w64, .gt, dst: .r6, .immediate(56), offset: 7)] + clear
        #expect(try proven(control))
    }

    @Test func anOverlappingWriteForgetsTheSlot() throws {
        let spill: [Instruction] = [.alu(.w64, .mov, dst: .r2, .immediate(8)), .store(.double, dst: .r10, offset: -8, src: .r2)]
        // A write beside the slot keeps it.
        #expect(try proven(spill + [.storeImmediate(.double, dst: .r10, offset: -16, imm: 9)]))
        // Any write over one of its bytes forgets it.
        #expect(try !proven(spill + [.storeImmediate(.word, dst: .r10, offset: -8, imm: 9)]))
        #expect(try !proven(spill + [.storeImmediate(.byte, dst: .r10, offset: -1, imm: 9)]))
        #expect(try !proven(spill + [.storeImmediate(.double, dst: .r10, offset: -12, imm: 9)]))
        // An atomic on it.
        #expect(try !proven(spill + [.alu(.w64, .mov, dst: .r5, .immediate(0)), .atomic(.w64, .add(fetch: false), dst: .r10, offset: -8, src: .r5)]))
        // A write at a variable offset that may reach it.
        // (The helper call comes first: a call may forget spills of its own.)
        let unknownR0: [Instruction] = [.call(.helper(5)), .alu(.w64, .and, dst: .r0, .immediate(8))]
        let variable: [Instruction] = [
            .alu(.w64, .mov, dst: .r5, .register(.r10)), .alu(.w64, .add, dst: .r5, .immediate(-16)),
            .alu(.w64, .add, dst: .r5, .register(.r0)),
        ]
        #expect(try proven(unknownR0 + spill + variable + [.storeImmediate(.double, dst: .r5, offset: -8, imm: 9)]))
        #expect(try !proven(unknownR0 + spill + variable + [.storeImmediate(.double, dst: .r5, offset: 0, imm: 9)]))
        // A 4-byte read of the slot is not a fill: unknown.
        let narrow = [.alu(.w64, .mov, dst: .r2, .immediate(8)), .store(.double, dst: .r10, offset: -8, src: .r2),
                      .load(.word, dst: .r3, src: .r10, offset: -8)] + Array(program([]).dropFirst())
        #expect(try !verifyXDP(narrow).verification.proofs.isSafeAccess(at: lastAccess(narrow)))
    }

    @Test func anUnprovenWriteForgetsEverySlot() throws {
        let spill: [Instruction] = [.alu(.w64, .mov, dst: .r2, .immediate(8)), .store(.double, dst: .r10, offset: -8, src: .r2)]
        // r5 = r10 + an unknown number: a checked write through it may land on the slot.
        let escape: [Instruction] = [
            .call(.helper(5)),
            .alu(.w64, .mov, dst: .r5, .register(.r10)), .alu(.w64, .add, dst: .r5, .register(.r0)),
        ]
        #expect(try proven(escape + spill + [.alu(.w64, .mov, dst: .r5, .register(.r0))]))
        #expect(try !proven(escape + spill + [.storeImmediate(.double, dst: .r5, offset: 0, imm: 4096)]))
        #expect(try !proven(escape + spill + [.storeImmediate(.byte, dst: .r5, offset: 0, imm: 9)]))
    }

    @Test func aBoundReachesTheSpilledCopy() throws {
        // r6 unknown, spilled, then bounded: the slot holds the same number.
        func bounded(_ limit: Int32, spillFirst: Bool) -> [Instruction] {
            let spill: [Instruction] = [.store(.double, dst: .r10, offset: -8, src: .r6)]
            let check: [Instruction] = [
                .branch(.w64, .le, dst: .r6, .immediate(limit), offset: 2),
                .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit,
            ]
            return [.call(.helper(5)), .alu(.w64, .mov, dst: .r6, .register(.r0))] + (spillFirst ? spill + check : check + spill)
        }
        #expect(try proven(bounded(56, spillFirst: true)))
        #expect(try proven(bounded(56, spillFirst: false)))
        #expect(try !proven(bounded(57, spillFirst: true)))
        #expect(try !proven(bounded(57, spillFirst: false)))
        // The register moved after the spill: the bound on it says nothing of the slot but shifted.
        // r6 in [0, 65535] spilled, then moved by 1 and bounded: the slot is 1 below.
        let moved: [Instruction] = [
            .call(.helper(5)), .alu(.w64, .mov, dst: .r6, .register(.r0)), .alu(.w64, .and, dst: .r6, .immediate(0xffff)),
            .store(.double, dst: .r10, offset: -8, src: .r6),
            .alu(.w64, .add, dst: .r6, .immediate(1)),
            .branch(.w64, .le, dst: .r6, .immediate(57), offset: 2),
            .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit,
        ]
        #expect(try proven(moved))
        var offByOne = moved
        offByOne[5] = .branch(.w64, .le, dst: .r6, .immediate(58), offset: 2)
        #expect(try !proven(offByOne))
        // The register overwritten after the spill: the bound is not the slot's.
        var overwritten = moved
        overwritten[4] = .alu(.w64, .mov, dst: .r6, .immediate(0))
        #expect(try !proven(overwritten))
    }

    @Test func aSpilledPacketEndComesBack() throws {
        // data_end spilled and filled, then compared: the packet read is proven.
        func body(_ refill: Instruction, _ between: [Instruction] = []) -> [Instruction] {
            [
                XDP.data(.r2), XDP.dataEnd(.r3),
                .store(.double, dst: .r10, offset: -8, src: .r3),
            ] + between + [
                refill,
                .alu(.w64, .mov, dst: .r4, .register(.r2)),
                .alu(.w64, .add, dst: .r4, .immediate(4)),
                .branch(.w64, .gt, dst: .r4, .register(.r5), offset: 1),
                .load(.byte, dst: .r0, src: .r2, offset: 3),
                .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit,
            ]
        }
        func proven(_ p: [Instruction]) throws -> Bool {
            try verifyXDP(p).verification.proofs.isSafeAccess(at: lastAccess(p))
        }
        #expect(try proven(body(.load(.double, dst: .r5, src: .r10, offset: -8))))
        #expect(try !proven(body(.load(.word, dst: .r5, src: .r10, offset: -8))))
        #expect(try !proven(body(.load(.double, dst: .r5, src: .r10, offset: -8), [.storeImmediate(.half, dst: .r10, offset: -6, imm: 0)])))
    }
}
