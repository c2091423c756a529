import BPFISA
import BPFJIT
import BPFJITMIPS32
import BPFNativeDisassembler
import BPFRuntime
import Testing

/// `dump jited --arch mips32le|mips32be`: the image is named for its byte
/// order and Capstone decodes every word of it in that order.
@Suite struct DumpTests {
    @Test(arguments: [false, true]) func listingDecodesEveryWord(bigEndian: Bool) throws {
        let program = Program([
            .load(.word, dst: .r0, src: .r1, offset: 0), .byteSwap(.toBigEndian, dst: .r0, bits: 32),
            .branch(.w64, .sgt, dst: .r0, .immediate(5), offset: 1), .alu(.w64, .mul, dst: .r0, .immediate(3)), .exit,
        ])
        let image = try MIPS32JIT.listingImage(program, configuration: EngineConfiguration(),
                                               options: MIPS32Options(bigEndian: bigEndian))
        #expect(image.architecture == (bigEndian ? .mips32be : .mips32le))
        let listing = try JITListing(image: image, program: program)
        let lines = listing.sections.flatMap(\.instructions)
        #expect(lines.reduce(0) { $0 + $1.bytes.count } == image.size)
        let undecoded = lines.filter { $0.text.hasPrefix(".") }
        #expect(undecoded.isEmpty, "\(undecoded.prefix(5).map(\.text))")
        // The prologue's first instruction, in either order.
        #expect(lines.first?.text == "addiu $sp, $sp, -0x40")
        // be32 swaps on the little-endian target and only truncates on the big-endian one.
        let swap = listing.sections.first { $0.pc == 1 }?.instructions ?? []
        #expect(swap.contains { $0.text.hasPrefix("wsbh") } == !bigEndian)
    }
}
