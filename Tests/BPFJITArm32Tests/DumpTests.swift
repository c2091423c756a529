import BPFISA
import BPFJIT
import BPFJITArm32
import BPFKit
import BPFNativeDisassembler
import BPFRuntime
import BPFTestSuite
import Testing

/// `bpfkit dump jited --arch arm32`: every BPF instruction with its A32
/// code, disassembled by Capstone (ARM mode), and the call statistics.
@Suite struct DumpTests {
    static let helper = Helper(id: 1, name: "id", prototype: HelperPrototype([.scalar(bits: 64)], returns: .scalar(bits: 64))) { $0.argument(1) }

    static let program = Program(SamplePrograms.fnv1a.instructions.dropLast() + [
        .mov64(.r1, .r0), .call(.helper(1)),
        .mov64(.r2, 1), .store(.double, dst: .r10, offset: -8, src: .r0),
        .atomic(.w64, .add(fetch: true), dst: .r10, offset: -8, src: .r2),
        .atomic(.w32, .cmpxchg, dst: .r10, offset: -8, src: .r2),
        .alu(.w64, .div, dst: .r0, .register(.r2)), .alu(.w32, .mod, dst: .r0, .register(.r2)),
        .byteSwap(.toBigEndian, dst: .r0, bits: 32), .exit,
    ])

    @Test func listingCoversTheWholeImage() throws {
        let image = try EngineCatalog.jitImage(Self.program, architecture: .arm32,
                                               configuration: EngineConfiguration(helpers: HelperRegistry([Self.helper])))
        #expect(image.architecture == .arm32)
        let listing = try JITListing(image: image, program: Self.program)
        #expect(listing.imageSize == image.size)
        // The helper, the slow bounds check and the 64-bit division: all next to the trampolines, all `bl`.
        #expect(listing.directCalls == 3 && listing.indirectCalls == 0, "\(listing.directCalls) direct, \(listing.indirectCalls) indirect")
        let decoded = listing.sections.flatMap(\.instructions)
        #expect(decoded.reduce(0) { $0 + $1.bytes.count } == image.size)
        #expect(!decoded.contains { $0.text.hasPrefix(".byte") }, "every word decodes")
        let text = listing.text
        for expected in ["prologue of function 0", "ldrexd", "strexd", "ldrex ", "strex ", "dmb ish", "rev ", "udiv", "mls", "ldrb",
                         "umull", "bl #", "host calls: 3 direct, 0 indirect"] {
            #expect(text.contains(expected), "\(expected) missing from the listing")
        }
    }
}
