import BPFEmulator
import BPFISA
import BPFJIT
import BPFJITArm64
import BPFKit
import BPFNativeDisassembler
import BPFRuntime
import BPFTestSuite
import Testing

/// `bpfkit dump jited --arch arm64`: every BPF instruction with its arm64
/// code, disassembled by Capstone, and the count of direct calls.
@Suite struct DumpTests {
    static let helper = Helper(id: 1, name: "id", prototype: HelperPrototype([.scalar(bits: 64)], returns: .scalar(bits: 64))) { $0.argument(1) }

    static let program = Program(SamplePrograms.fnv1a.instructions.dropLast() + [
        .mov64(.r1, .r0), .call(.helper(1)),
        .mov64(.r2, 1), .store(.double, dst: .r10, offset: -8, src: .r0),
        .atomic(.w64, .add(fetch: true), dst: .r10, offset: -8, src: .r2),
        .atomic(.w32, .cmpxchg, dst: .r10, offset: -8, src: .r2),
        .byteSwap(.toBigEndian, dst: .r0, bits: 32), .exit,
    ])

    @Test func listingCoversTheWholeImage() throws {
        let image = try EngineCatalog.jitImage(Self.program, architecture: .arm64,
                                               configuration: EngineConfiguration(helpers: HelperRegistry([Self.helper])))
        #expect(image.architecture == .arm64)
        let listing = try JITListing(image: image, program: Self.program)
        #expect(listing.imageSize == image.size)
        // The helper and the slow bounds check: both next to the trampolines, both `bl`.
        #expect(listing.directCalls == 2 && listing.indirectCalls == 0, "\(listing.directCalls) direct, \(listing.indirectCalls) indirect")
        let decoded = listing.sections.flatMap(\.instructions)
        #expect(decoded.reduce(0) { $0 + $1.bytes.count } == image.size)
        #expect(!decoded.contains { $0.text.hasPrefix(".byte") }, "every word decodes")
        let pcs = listing.sections.compactMap(\.pc)
        #expect(pcs == Self.program.instructions.indices.filter { Self.program.instructions[$0] != .immediate64Tail })
        let text = listing.text
        for expected in ["prologue of function 0", "ldaddal", "casal", "rev w", "ldrb", "bl #", "host calls: 2 direct, 0 indirect"] {
            #expect(text.contains(expected), "\(expected) missing from the listing")
        }
        #expect(image.passes == 3)
    }

    @Test func farImagesListIndirectCalls() throws {
        let image = try Arm64JIT.listingImage(Self.program, configuration: EngineConfiguration(helpers: HelperRegistry([Self.helper])), placement: .farFromHelpers)
        let listing = try JITListing(image: image, program: Self.program)
        #expect(listing.directCalls == 0 && listing.indirectCalls == 2)
        #expect(listing.text.contains("blr x16") && listing.text.contains("movk x16"))
    }

    @Test func exclusiveAtomicsDisassemble() throws {
        let image = try Arm64JIT.listingImage(Self.program, configuration: EngineConfiguration(helpers: HelperRegistry([Self.helper])), options: Arm64Options(atomics: .exclusive))
        let text = try JITListing(image: image, program: Self.program).text
        for expected in ["ldxr", "stlxr", "dmb ish", "cbnz w12"] {
            #expect(text.contains(expected), "\(expected) missing")
        }
        #expect(!text.contains("ldaddal"))
    }
}
