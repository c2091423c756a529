import BPFHelpers
import BPFISA
import BPFLoader
import BPFVerifier
import Testing

/// Programs with something the verifier must NOT prove, each next to a
/// control it must prove, so that a test cannot pass by proving nothing.
struct NegativeTests {
    /// Slot of each access instruction of `instructions` (logical order, ld_imm64 = 2 slots).
    func slots(_ instructions: [Instruction]) -> [Int] {
        var pc = 0, result: [Int] = []
        for i in instructions {
            switch i {
            case .load, .loadSignExtend, .store, .storeImmediate, .atomic: result.append(pc)
            default: break
            }
            pc += i.slotCount
        }
        return result
    }

    /// data in r2, data_end in r3, `data + checked <= data_end` known when `body` runs.
    func packetProgram(checked: Int16, _ body: [Instruction]) -> [Instruction] {
        let head: [Instruction] = [
            XDP.data(.r2), XDP.dataEnd(.r3),
            .alu(.w64, .mov, dst: .r4, .register(.r2)),
            .alu(.w64, .add, dst: .r4, .immediate(Int32(checked))),
            .branch(.w64, .gt, dst: .r4, .register(.r3), offset: Int16(body.count)),
        ]
        return head + body + [.alu(.w64, .mov, dst: .r0, .immediate(0)), .exit]
    }

    @Test func readPastTheCheckedPacketRange() throws {
        let program = packetProgram(checked: 4, [
            .load(.byte, dst: .r0, src: .r2, offset: 3),     // proven
            .load(.byte, dst: .r0, src: .r2, offset: 4),     // one past
            .load(.word, dst: .r0, src: .r2, offset: 1),     // straddles the end
            .load(.byte, dst: .r0, src: .r2, offset: -1),    // before the packet
        ])
        let report = try verifyXDP(program).verification
        let pcs = slots(program)
        #expect(report.proofs.isSafeAccess(at: pcs[0]) && report.proofs.isSafeAccess(at: pcs[1]))
        #expect(report.proofs.isSafeAccess(at: pcs[2]))
        #expect(!report.proofs.isSafeAccess(at: pcs[3]))
        #expect(!report.proofs.isSafeAccess(at: pcs[4]))
        #expect(!report.proofs.isSafeAccess(at: pcs[5]))
        #expect(report.unproven.first?.reason.contains("past the checked packet range") == true, "\(report.log)")
    }

    @Test func packetPointerAfterAdjustHead() throws {
        let program: [Instruction] = [
            .alu(.w64, .mov, dst: .r6, .register(.r1)),
            XDP.data(.r7), XDP.dataEnd(.r3),
            .alu(.w64, .mov, dst: .r4, .register(.r7)),
            .alu(.w64, .add, dst: .r4, .immediate(8)),
            .branch(.w64, .gt, dst: .r4, .register(.r3), offset: 6),
            .load(.byte, dst: .r0, src: .r7, offset: 0),     // proven
            .alu(.w64, .mov, dst: .r1, .register(.r6)),
            .alu(.w64, .mov, dst: .r2, .immediate(4)),
            .call(.helper(44)),
            .load(.byte, dst: .r0, src: .r7, offset: 0),     // the packet may have moved
            .store(.byte, dst: .r7, offset: 1, src: .r0),
            .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit,
        ]
        let report = try verifyXDP(program).verification
        let pcs = slots(program)
        #expect(report.proofs.isSafeAccess(at: pcs[2]))
        #expect(!report.proofs.isSafeAccess(at: pcs[3]))
        #expect(!report.proofs.isSafeAccess(at: pcs[4]))
    }

    @Test func mapValueNeedsANullCheck() throws {
        let map = try arrayMap(valueSize: 16)
        func lookup(checked: Bool) -> [Instruction] {
            var p: [Instruction] = [
                .storeImmediate(.word, dst: .r10, offset: -4, imm: 0),
                .alu(.w64, .mov, dst: .r2, .register(.r10)),
                .alu(.w64, .add, dst: .r2, .immediate(-4)),
                .loadImmediate64(dst: .r1, .mapByIndex(0)),
                .call(.helper(1)),
                .alu(.w64, .mov, dst: .r6, .register(.r0)),
            ]
            if checked { p.append(.branch(.w64, .eq, dst: .r6, .immediate(0), offset: 3)) }
            p += [
                .load(.double, dst: .r2, src: .r0, offset: 8),
                .store(.double, dst: .r6, offset: 0, src: .r2),
                .load(.double, dst: .r2, src: .r0, offset: 0),
                .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit,
            ]
            return p
        }
        // Past the 16-byte value: refused (the next element's bytes follow it).
        var past = lookup(checked: true)
        past[past.count - 3] = .load(.double, dst: .r2, src: .r0, offset: 9)
        #expect(throws: (any Error).self) { try verifyXDP(past, maps: [map]) }
        let unchecked = try verifyXDP(lookup(checked: false), maps: [map]).verification
        let pcs = slots(lookup(checked: false))
        #expect(pcs.dropFirst().allSatisfy { !unchecked.proofs.isSafeAccess(at: $0) }, "\(unchecked.log)")
        #expect(unchecked.proofs.isSafeAccess(at: pcs[0]))
        let checked = try verifyXDP(lookup(checked: true), maps: [map]).verification
        let cpcs = slots(lookup(checked: true))
        #expect(checked.proofs.isSafeAccess(at: cpcs[1]) && checked.proofs.isSafeAccess(at: cpcs[2]) && checked.proofs.isSafeAccess(at: cpcs[3]),
                "\(checked.log)")
    }

    @Test func variableStackOffsets() throws {
        func program(mask: Int32) -> [Instruction] {
            packetProgram(checked: 1, [
                .load(.byte, dst: .r5, src: .r2, offset: 0),            // [0, 255]
                .alu(.w64, .and, dst: .r5, .immediate(mask)),
                .alu(.w64, .mov, dst: .r4, .register(.r10)),
                .alu(.w64, .add, dst: .r4, .immediate(-256)),
                .alu(.w64, .add, dst: .r4, .register(.r5)),
                .storeImmediate(.double, dst: .r4, offset: 0, imm: 7),
            ])
        }
        let inside = try verifyXDP(program(mask: 0x7f)).verification
        let outside = try verifyXDP(program(mask: 0xff)).verification
        let pc = slots(program(mask: 0))[3]
        #expect(inside.proofs.isSafeAccess(at: pc), "\(inside.log)")
        #expect(!outside.proofs.isSafeAccess(at: pc))
        #expect(outside.unproven.first?.reason.contains("leaves the 512-byte stack frame") == true, "\(outside.log)")
        // An unbounded offset: a whole 64-bit word from the packet.
        let unbounded = packetProgram(checked: 8, [
            .load(.double, dst: .r5, src: .r2, offset: 0),
            .alu(.w64, .mov, dst: .r4, .register(.r10)),
            .alu(.w64, .add, dst: .r4, .immediate(-256)),
            .alu(.w64, .add, dst: .r4, .register(.r5)),
            .storeImmediate(.byte, dst: .r4, offset: 0, imm: 7),
        ])
        let report = try verifyXDP(unbounded).verification
        #expect(report.proofs.isSafeAccess(at: slots(unbounded)[2]))
        #expect(!report.proofs.isSafeAccess(at: slots(unbounded)[3]))
    }

    @Test func loopWithAnUnknownBound() throws {
        // r5 = a packet word; do { r5 -= 1; *(r10 - 8) = r5 } while (r5 != 0)
        let program = packetProgram(checked: 8, [
            .load(.double, dst: .r5, src: .r2, offset: 0),
            .alu(.w64, .sub, dst: .r5, .immediate(1)),
            .store(.double, dst: .r10, offset: -8, src: .r5),
            .branch(.w64, .ne, dst: .r5, .immediate(0), offset: -3),
        ])
        let report = try verifyXDP(program).verification
        #expect(report.gaveUp == nil)
        #expect(!report.proofs.terminates)
        #expect(report.terminationProblem != nil)
        #expect(report.unproven.isEmpty, "\(report.log)")
        // The same loop with a constant bound ends, within a bound.
        let bounded = packetProgram(checked: 8, [
            .alu(.w64, .mov, dst: .r5, .immediate(100)),
            .alu(.w64, .sub, dst: .r5, .immediate(1)),
            .store(.double, dst: .r10, offset: -8, src: .r5),
            .branch(.w64, .ne, dst: .r5, .immediate(0), offset: -3),
        ])
        let ends = try verifyXDP(bounded).verification
        #expect(ends.proofs.terminates && ends.proofs.maxInstructions >= 300, "\(ends.log)")
    }

    @Test func uninitializedRegister() throws {
        let reads = try verifyXDP([.alu(.w64, .mov, dst: .r0, .register(.r5)), .exit]).verification
        #expect(!reads.proofs.initializesRegistersBeforeUse)
        #expect(reads.uninitializedRead?.contains("r5") == true)
        let exits = try verifyXDP([.exit]).verification
        #expect(!exits.proofs.initializesRegistersBeforeUse)
        let fine = try verifyXDP([.alu(.w64, .mov, dst: .r0, .register(.r1)), .exit]).verification
        #expect(fine.proofs.initializesRegistersBeforeUse)
        // After a helper call r1-r5 hold nothing the program wrote.
        let afterCall = try verifyXDP([.call(.helper(5)), .alu(.w64, .mov, dst: .r0, .register(.r1)), .exit]).verification
        #expect(!afterCall.proofs.initializesRegistersBeforeUse)
    }

    @Test func memProgramsProveOnlyTheStack() throws {
        let program: [Instruction] = [
            .load(.byte, dst: .r0, src: .r1, offset: 0),
            .store(.double, dst: .r10, offset: -8, src: .r2),
            .exit,
        ]
        let linked = try LinkedProgram(program: Program(program), type: ProgramTypes.mem)
        #expect(!linked.proofs.isSafeAccess(at: 0))
        #expect(linked.proofs.isSafeAccess(at: 1))
        #expect(linked.proofs.initializesRegistersBeforeUse)
    }

    @Test func readOnlyContextAndRodata() throws {
        // Writes to the context are refused at load time; a rewritten read is proven.
        let read = try verifyXDP([XDP.data(.r0), .exit]).verification
        #expect(read.proofs.isSafeAccess(at: 0))
    }
}
