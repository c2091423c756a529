import BPFELF
import BPFHelpers
import BPFInterpreter
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import Foundation
import Testing


/// Real objects corrupted byte by byte: every mutant must load or fail with a
/// typed error, and programs that load must run to a result or a typed error
/// (within an instruction budget), never crash or hang.
@Suite(.enabled(if: Clang.available, "clang is needed to build the objects to corrupt"))
struct CorruptedObjectTests {
    static let sources = ["xdp_proto_count", "xdp_swap_mac", "global_data", "ringbuf_events", "atomics", "xdp_adjust"]
    /// `BPFKIT_FUZZ_MUTATIONS` and `BPFKIT_FUZZ_SEED` run longer or different
    /// campaigns (the objects' bytes also vary with the checkout's path, which
    /// clang records in the debug information).
    static let mutationsPerObject = ProcessInfo.processInfo.environment["BPFKIT_FUZZ_MUTATIONS"].flatMap { Int($0) } ?? 700
    static let seed = ProcessInfo.processInfo.environment["BPFKIT_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x5EED_0000

    enum Outcome: Hashable { case parseError, loadError, programError, ran, runError }

    /// Loads (and runs) one mutant; returns what happened.
    static func exercise(_ bytes: [UInt8]) -> Outcome {
        let object: ObjectFile
        do { object = try ObjectFile(bytes: bytes) } catch { return .parseError }
        // Mutated max_entries can ask for hundreds of megabytes; keep the test quick
        // by instantiating only modest maps (their definitions were still parsed).
        let bytesNeeded = object.maps.reduce(0) { $0 + min($1.definition.maxEntries, 1 << 30) * ($1.definition.valueStride + $1.definition.keySize) }
        guard bytesNeeded < 64 << 20 else { return .loadError }
        let loaded: LoadedObject
        do { loaded = try LoadedObject(object, options: LoadOptions(trace: { _ in })) } catch { return .loadError }
        var outcome = Outcome.programError
        for description in object.programs {
            do {
                let program = try loaded.program(named: description.name, type: XDPProgramType())
                let prepared = try Interpreter().prepare(program.program, configuration: program.engineConfiguration(instructionLimit: 20_000))
                let run = try program.makeRun(input: Packets.ipv4(protocol: 6, payload: Packets.bytes(80)))
                do { _ = try prepared.run(run.input); _ = run.output(); outcome = .ran } catch { outcome = .runError }
            } catch {
                continue
            }
        }
        return outcome
    }

    @Test(arguments: sources)
    func byteMutationsFailCleanly(_ name: String) throws {
        let original = try Clang.object(examplesDirectory.appendingPathComponent("\(name).c"))
        #expect(Self.exercise(original) == .ran)
        var rng = SplitMix(state: name.utf8.reduce(Self.seed) { $0 &* 31 &+ UInt64($1) })
        var outcomes: [Outcome: Int] = [:]
        for _ in 0..<Self.mutationsPerObject {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let index: Int
                // Half the mutations hit the ELF header, section headers or a relocation-heavy
                // region near the start, where most of the parsing decisions are made.
                if Bool.random(using: &rng) {
                    index = Int.random(in: 0..<min(bytes.count, 64), using: &rng)
                } else {
                    index = Int.random(in: 0..<bytes.count, using: &rng)
                }
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[index] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
                case 1: bytes[index] = 0
                case 2: bytes[index] = 0xff
                default: bytes[index] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            outcomes[Self.exercise(bytes), default: 0] += 1
        }
        print("corrupted \(name): \(Self.mutationsPerObject) mutants -> \(outcomes.sorted { "\($0.key)" < "\($1.key)" }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        #expect(outcomes.values.reduce(0, +) == Self.mutationsPerObject)
    }

    /// Mutations inside the section header table and the symbol table, whose fields steer the parser most.
    @Test func structureMutationsFailCleanly() throws {
        let original = try Clang.object(examplesDirectory.appendingPathComponent("global_data.c"))
        let sectionTable = Int(original.le64(at: 40))
        var rng = SplitMix(state: 42)
        var outcomes: [Outcome: Int] = [:]
        for _ in 0..<1_500 {
            var bytes = original
            let index = Int.random(in: sectionTable..<original.count, using: &rng)
            bytes[index] = UInt8.random(in: 0...255, using: &rng)
            if Bool.random(using: &rng) {
                let other = Int.random(in: 64..<original.count, using: &rng)
                bytes[other] = UInt8.random(in: 0...255, using: &rng)
            }
            outcomes[Self.exercise(bytes), default: 0] += 1
        }
        print("section/symbol table mutants: \(outcomes)")
        #expect(outcomes[.ran, default: 0] > 0 && outcomes[.parseError, default: 0] > 0)
    }

    /// (name, offset, size) of every section, read directly from an ELF64 little-endian header.
    static func sections(_ bytes: [UInt8]) -> [(String, Int, Int)] {
        let table = Int(bytes.le64(at: 40)), count = Int(bytes[60]) | Int(bytes[61]) << 8
        let namesIndex = Int(bytes[62]) | Int(bytes[63]) << 8
        func header(_ i: Int) -> (name: Int, offset: Int, size: Int) {
            let h = table + i * 64
            return (Int(bytes.le32(at: h)), Int(bytes.le64(at: h + 24)), Int(bytes.le64(at: h + 32)))
        }
        let names = header(namesIndex).offset
        return (1..<count).map { i in
            let h = header(i)
            let name = String(decoding: bytes[(names + h.name)...].prefix { $0 != 0 }, as: UTF8.self)
            return (name, h.offset, h.size)
        }
    }

    /// Mutations aimed at what the loader interprets: code, relocations, BTF, map
    /// definitions, symbols, global data.
    @Test(arguments: sources)
    func mutationsOfInterpretedSectionsFailCleanly(_ name: String) throws {
        let original = try Clang.object(examplesDirectory.appendingPathComponent("\(name).c"))
        let targets = Self.sections(original).filter { section in
            let n = section.0
            return section.2 > 0 && !n.hasPrefix(".debug") && !n.hasPrefix(".rel.debug") && n != ".BTF.ext" && n != ".rel.BTF.ext"
                && n != ".llvm_addrsig"
        }
        #expect(targets.contains { $0.0 == ".BTF" } && targets.contains { $0.0 == ".symtab" })
        var rng = SplitMix(state: name.utf8.reduce(99) { $0 &* 131 &+ UInt64($1) })
        var outcomes: [Outcome: Int] = [:]
        for _ in 0..<Self.mutationsPerObject {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let (_, offset, size) = targets.randomElement(using: &rng)!
                let index = offset + Int.random(in: 0..<size, using: &rng)
                guard index < bytes.count else { continue }
                bytes[index] = Bool.random(using: &rng) ? UInt8.random(in: 0...255, using: &rng) : bytes[index] ^ (1 << UInt8.random(in: 0..<8, using: &rng))
            }
            outcomes[Self.exercise(bytes), default: 0] += 1
        }
        print("corrupted sections of \(name): \(outcomes.sorted { "\($0.key)" < "\($1.key)" }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        #expect(outcomes[.parseError, default: 0] + outcomes[.programError, default: 0] + outcomes[.loadError, default: 0] > 0)
    }

    @Test(arguments: sources)
    func everyTruncationFailsCleanly(_ name: String) throws {
        let original = try Clang.object(examplesDirectory.appendingPathComponent("\(name).c"))
        var rng = SplitMix(state: 7)
        for length in [0, 1, 15, 16, 63, 64, 65] + (0..<100).map({ _ in Int.random(in: 0..<original.count, using: &rng) }) {
            let outcome = Self.exercise(Array(original.prefix(length)))
            #expect(outcome == .parseError || outcome == .ran || outcome == .runError, "\(name) truncated to \(length)")
        }
    }
}
