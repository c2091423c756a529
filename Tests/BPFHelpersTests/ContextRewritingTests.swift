import BPFISA
import BPFMaps
import BPFRuntime
import Testing
@testable import BPFHelpers

@Suite struct ContextRewritingTests {
    let xdp = XDPProgramType()

    func rewrite(_ instructions: [Instruction]) throws(ContextAccessError) -> [Instruction] {
        try xdp.rewriteContextAccesses(in: Program(instructions)).instructions
    }

    @Test func fieldLoadsBecomeLoadsOfBPFKitsContext() throws {
        let out = try rewrite([
            .load(.word, dst: .r2, src: .r1, offset: 0), .load(.word, dst: .r3, src: .r1, offset: 4),
            .load(.word, dst: .r4, src: .r1, offset: 8), .load(.word, dst: .r5, src: .r1, offset: 12),
            .load(.word, dst: .r0, src: .r1, offset: 16), .exit,
        ])
        #expect(out == [
            .load(.double, dst: .r2, src: .r1, offset: 0), .load(.double, dst: .r3, src: .r1, offset: 8),
            .load(.double, dst: .r4, src: .r1, offset: 16), .load(.word, dst: .r5, src: .r1, offset: 40),
            .load(.word, dst: .r0, src: .r1, offset: 44), .exit,
        ])
    }

    @Test func copiesSpillsSubprogramArgumentsAndReturnValuesAreTracked() throws {
        let out = try rewrite([
            .alu(.w64, .mov, dst: .r6, .register(.r1)),                  // 0: r6 = ctx
            .store(.double, dst: .r10, offset: -8, src: .r6),             // 1: spill
            .alu(.w64, .mov, dst: .r6, .immediate(0)),                    // 2
            .load(.double, dst: .r7, src: .r10, offset: -8),              // 3: fill
            .load(.word, dst: .r2, src: .r7, offset: 4),                  // 4: data_end
            .alu(.w64, .mov, dst: .r1, .register(.r7)),                   // 5
            .call(.local(offset: 3)),                                     // 6 -> 10
            .load(.word, dst: .r0, src: .r0, offset: 12),                 // 7: through the returned ctx
            .load(.word, dst: .r3, src: .r2, offset: 0),                  // 8: r2 is a packet pointer: untouched
            .exit,                                                        // 9
            .load(.word, dst: .r3, src: .r1, offset: 0),                  // 10: callee reads data
            .alu(.w64, .mov, dst: .r0, .register(.r1)),                   // 11: returns ctx
            .exit,                                                        // 12
        ])
        #expect(out[4] == .load(.double, dst: .r2, src: .r7, offset: 8))
        #expect(out[7] == .load(.word, dst: .r0, src: .r0, offset: 40))
        #expect(out[8] == .load(.word, dst: .r3, src: .r2, offset: 0))
        #expect(out[10] == .load(.double, dst: .r3, src: .r1, offset: 0))
    }

    @Test func ambiguousAndModifiedPointersAreRefused() {
        #expect(throws: ContextAccessError.self) {
            _ = try rewrite([
                .branch(.w64, .eq, dst: .r2, .immediate(0), offset: 1),
                .alu(.w64, .mov, dst: .r1, .register(.r10)),
                .load(.word, dst: .r0, src: .r1, offset: -8),
                .exit,
            ])
        }
        do {
            _ = try rewrite([.alu(.w64, .add, dst: .r1, .immediate(4)), .load(.word, dst: .r0, src: .r1, offset: 0), .exit])
            Issue.record("modified context pointer accepted")
        } catch {
            #expect(error.pc == 1 && error.description.hasPrefix("instruction 1: dereference of a modified context pointer"))
        }
    }

    @Test func writesAndBadLoadsAreRefusedNamingTheInstruction() {
        let cases: [(Instruction, String)] = [
            (.store(.word, dst: .r1, offset: 16, src: .r2), "write to xdp_md.rx_queue_index"),
            (.storeImmediate(.word, dst: .r1, offset: 0, imm: 0), "write to xdp_md.data"),
            (.atomic(.w32, .add(fetch: false), dst: .r1, offset: 12, src: .r2), "write to xdp_md.ingress_ifindex"),
            (.load(.double, dst: .r0, src: .r1, offset: 0), "8-byte read at offset 0"),
            (.load(.word, dst: .r0, src: .r1, offset: 2), "4-byte read at offset 2"),
            (.load(.word, dst: .r0, src: .r1, offset: 24), "outside struct xdp_md"),
            (.load(.word, dst: .r0, src: .r1, offset: -4), "outside struct xdp_md"),
            (.loadSignExtend(.word, dst: .r0, src: .r1, offset: 0), "sign-extending read"),
        ]
        for (instruction, phrase) in cases {
            do {
                _ = try rewrite([.alu(.w64, .mov, dst: .r0, .immediate(0)), instruction, .exit])
                Issue.record("accepted \(instruction)")
            } catch {
                #expect(error.pc == 1 && error.description.contains(phrase), "\(error)")
            }
        }
    }

    @Test func memProgramsAreNotRewritten() throws {
        let program = Program([.load(.double, dst: .r0, src: .r1, offset: 3), .exit])
        #expect(try MemProgramType().rewriteContextAccesses(in: program) == program)
    }
}

@Suite struct LoadTimePassTests {
    @Test func mapReferencesBecomeHandlesAndAddresses() throws {
        let hash = try makeMap(MapDefinition(name: "h", type: .hash, keySize: 4, valueSize: 8, maxEntries: 2))
        let data = try #require(try makeMap(MapDefinition(name: ".data", type: .array, keySize: 4, valueSize: 16, maxEntries: 1)) as? ArrayMap)
        let program = Program([
            .loadImmediate64(dst: .r1, .mapByIndex(0)), .loadImmediate64(dst: .r2, .mapValueByIndex(index: 1, offset: 8)),
            .loadImmediate64(dst: .r3, .mapByFD(7)), .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit,
        ])
        let out = try LoadTimeRewriting.resolveMapReferences(program, maps: [hash, data], fileDescriptors: [7: 1])
        #expect(out.instructions[0] == .loadImmediate64(dst: .r1, .value(hash.handle)))
        #expect(out.instructions[2] == .loadImmediate64(dst: .r2, .value(data.valueAddress(index: 0) + 8)))
        #expect(out.instructions[4] == .loadImmediate64(dst: .r3, .value(data.handle)))
        #expect(throws: LoadTimeError.badMapReference(pc: 0, reason: "map index 5 out of range (2 maps)")) {
            try LoadTimeRewriting.resolveMapReferences(Program([.loadImmediate64(dst: .r1, .mapByIndex(5)), .exit]), maps: [hash, data])
        }
        #expect(throws: LoadTimeError.self) {
            try LoadTimeRewriting.resolveMapReferences(Program([.loadImmediate64(dst: .r1, .mapValueByIndex(index: 0, offset: 0)), .exit]), maps: [hash])
        }
        #expect(throws: LoadTimeError.self) {
            try LoadTimeRewriting.resolveMapReferences(Program([.loadImmediate64(dst: .r1, .mapValueByIndex(index: 1, offset: 16)), .exit]), maps: [hash, data])
        }
    }

    @Test func callsAreCheckedAgainstTheRegistryAndType() {
        let registry = KernelHelpers.registry()
        #expect(throws: LoadTimeError.unknownHelper(pc: 1, id: 4242)) {
            try LoadTimeRewriting.checkCalls(Program([.alu(.w64, .mov, dst: .r0, .immediate(0)), .call(.helper(4242)), .exit]),
                                             helpers: registry, type: XDPProgramType())
        }
        #expect(throws: LoadTimeError.helperNotAllowed(pc: 0, helper: "bpf_xdp_adjust_head", programType: "mem")) {
            try LoadTimeRewriting.checkCalls(Program([.call(.helper(44)), .exit]), helpers: registry, type: MemProgramType())
        }
        #expect(throws: LoadTimeError.self) {
            try LoadTimeRewriting.checkCalls(Program([.call(.kfunc(btfID: 3)), .exit]), helpers: registry, type: XDPProgramType())
        }
    }
}
