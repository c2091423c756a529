import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFNativeDisassembler
import BPFRuntime
import Testing

/// `dump jited`: every BPF instruction with its native code, disassembled by Capstone.
@Suite struct DumpTests {
    @Test func listingCoversTheWholeImage() throws {
        let helper = Helper(id: 1, name: "id", prototype: HelperPrototype([.scalar(bits: 64)], returns: .scalar(bits: 64))) { $0.argument(1) }
        let instructions: [Instruction] = BenchmarkPrograms.fnv1a.dropLast() + [.mov64(.r1, .r0), .call(.helper(1)), .exit]
        let program = Program(instructions)
        let image = try X86_64JIT.assemble(program, configuration: EngineConfiguration(helpers: HelperRegistry([helper])),
                                           at: 0x7f12_3456_0000)
        let listing = try JITListing(image: image, program: program)
        #expect(listing.imageSize == image.size)
        #expect(listing.directCalls + listing.indirectCalls == 2)   // the helper and the slow bounds check
        // Every byte is decoded into real instructions (no `.byte` lines) and accounted for once.
        let decoded = listing.sections.flatMap(\.instructions)
        #expect(decoded.reduce(0) { $0 + $1.bytes.count } == image.size)
        #expect(!decoded.contains { $0.text.hasPrefix(".byte") })
        // Each BPF instruction has a section in pc order.
        let pcs = listing.sections.compactMap(\.pc)
        #expect(pcs == program.instructions.indices.filter { program.instructions[$0] != .immediate64Tail })
        let text = listing.text
        #expect(text.contains("prologue of function 0"))
        #expect(text.contains("movzx"))
        #expect(text.contains("imul"))
        #expect(text.contains("host calls: "))
        // A native offset maps back to its BPF instruction.
        let loadRange = image.nativeRange(of: 7)
        #expect(image.instruction(containing: loadRange.lowerBound) == 7)
    }

    @Test func directAndIndirectCountsFollowTheAddress() throws {
        let helper = Helper(id: 1, name: "id", prototype: HelperPrototype([], returns: .scalar(bits: 64))) { _ in 0 }
        let program = Program([.call(.helper(1)), .exit])
        let configuration = EngineConfiguration(helpers: HelperRegistry([helper]))
        let routine = JITHostRoutines.callHelperAddress
        let near = try X86_64JIT.assemble(program, configuration: configuration, at: routine + 0x10_0000)
        let far = try X86_64JIT.assemble(program, configuration: configuration, at: routine &+ (1 << 40))
        #expect(near.statistics.directCalls == 1 && near.statistics.indirectCalls == 0)
        #expect(far.statistics.directCalls == 0 && far.statistics.indirectCalls == 1)
        #expect(near.size < far.size)
    }
}
