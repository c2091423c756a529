import BPFHelpers
import BPFISA
import BPFLoader
import BPFMaps
import BPFTestSuite
import BPFVerifier
import Testing

/// What share of the differential generators' programs a campaign can
/// compare: the verifier accepts them (with every register written before
/// read) where pointers may leak, and again where they may not (otherwise
/// the program may leak an address, and is run but not compared). Most
/// drawn programs must be comparable, and some must still be refused or
/// leak, so that the verifier's refusals stay exercised. The programs are
/// linked as the campaign links them (an XDP program over the value array
/// and, for the proof-aimed generator, the program array).
@Suite struct GeneratorShareTests {
    enum Share { case compared, leaky, refused }

    static let limits = VerifierLimits(maxSteps: 200_000, unrollLimit: 40)

    static func share(_ programs: [Program], valueSize: Int, programArray: Bool) throws -> Share {
        var maps: [any BPFMap] = [try makeMap(MapDefinition(name: "values", type: .array, keySize: 4, valueSize: valueSize, maxEntries: 4))]
        if programArray { maps.append(try makeMap(MapDefinition(name: "programs", type: .programArray, keySize: 4, valueSize: 4, maxEntries: 2))) }
        defer { for case let array as ProgramArray in maps { array.removeAll() } }
        func link(_ program: Program, _ policy: VerifierPolicy) throws -> LinkedProgram {
            try LinkedProgram(program: program, type: ProgramTypes.xdp, maps: maps,
                              options: LoadOptions(trace: { _ in }, verifierLimits: limits, policy: policy))
        }
        do {
            let main = try link(programs[0], .privileged)
            if main.verification.uninitializedRead != nil { return .refused }
            for program in programs.dropFirst() { _ = try link(program, .privileged) }
        } catch {
            return .refused
        }
        do {
            for program in programs { _ = try link(program, VerifierPolicy(allowsPointerLeaks: false)) }
        } catch {
            return .leaky
        }
        return .compared
    }

    static func tally(_ seeds: Range<UInt64>, _ draw: (UInt64) throws -> Share) rethrows -> [Share: Int] {
        var counts: [Share: Int] = [:]
        for seed in seeds { counts[try draw(seed), default: 0] += 1 }
        return counts
    }

    @Test func mostRandomProgramsAreComparable() throws {
        let counts = try Self.tally(0..<200) { seed in
            var generator = RandomProgram(seed: seed, defined: true)
            return try Self.share([generator.generate()], valueSize: 16, programArray: false)
        }
        // Before the generator aimed its pointer registers at the packet,
        // about 60% were comparable (about 39% leaked).
        #expect(counts[.compared, default: 0] >= 150, "\(counts)")
        #expect(counts[.leaky, default: 0] + counts[.refused, default: 0] >= 4, "\(counts)")
    }

    @Test func mostProofAimedProgramsAreComparable() throws {
        let counts = try Self.tally(0..<200) { seed in
            var generator = ProofAimedProgram(seed: seed)
            let pair = generator.generate()
            return try Self.share([pair.main, pair.target], valueSize: 64, programArray: true)
        }
        // Before the generator kept most stack accesses inside the frame
        // and most tail calls' r1 the context, about 29% were comparable.
        #expect(counts[.compared, default: 0] >= 120, "\(counts)")
        #expect(counts[.refused, default: 0] >= 4 && counts[.leaky, default: 0] >= 4, "\(counts)")
    }
}
