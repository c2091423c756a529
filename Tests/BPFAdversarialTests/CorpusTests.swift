import BPFInterpreter
import BPFISA
import BPFJITX86_64
import BPFKit
import BPFLoader
import BPFRuntime
import BPFTestSuite
import Foundation
import Testing

/// The adversarial corpus (Tests/Fixtures/adversarial) on the engines of
/// this process: every entry must end on each engine exactly as on the
/// interpreter (same r0 and packet, or an error on both), or be refused at
/// load; see `check`. The arm64 JIT runs the same corpus under the emulator
/// in `EmulatedCorpusTests`.
@Suite(.serialized, .enabled(if: clangAvailable, "clang and the libbpf headers build the corpus"))
struct CorpusTests {
    @Test func everyEntryEndsAsOnTheInterpreterOrIsRefused() throws {
        var records: [EntryRecord] = []
        for entry in CorpusEntry.all {
            do { records.append(try check(entry, sides: Side.native)) } catch {
                Issue.record("\(entry.file): \(error)")
            }
        }
        print(summary(records, title: "Adversarial corpus (\(Side.native.map(\.description).joined(separator: ", ")) against the interpreter)"))
        if ProcessInfo.processInfo.environment["ADVERSARIAL_ENTRIES"] == nil && ProcessInfo.processInfo.environment["ADVERSARIAL_SKIP"] == nil {
            #expect(records.count >= 30, "the corpus lost entries: \(records.count)")
            // The corpus must reach proven code, or it proves little.
            #expect(records.reduce(0) { $0 + $1.provenExercised } > 100)
        }
    }

    @Test func everyClassOfTheThreatModelHasEntries() {
        let classes = Set(CorpusEntry.all.map(\.attackClass))
        let environment = ProcessInfo.processInfo.environment
        guard environment["ADVERSARIAL_ENTRIES"] == nil, environment["ADVERSARIAL_SKIP"] == nil else { return }
        for wanted in ["tail-call-context", "pruning", "frames", "jump-across-functions", "verification-cost", "read-only-maps",
                       "stale-map-values", "helper-stack-regions", "references", "pointer-leaks", "bounds-32-bit",
                       "signed-unsigned", "sign-extension", "shifts", "overflow", "packet-ranges", "null-checks", "map-value-neighbours",
                       "helper-sizes", "loops", "calls", "tail-calls", "division", "callbacks", "input-length", "linked-scalars", "spilled-scalars"] {
            #expect(classes.contains(wanted), "no corpus entry of class \(wanted)")
        }
    }

    /// A program that reserves a ring-buffer record and never releases it,
    /// run 300 times: afterwards a program that reserves and submits must
    /// still succeed on every engine (unless the load was refused).
    @Test func ringBufferStaysUsableAfterUnreleasedReservations() throws {
        let entry = try CorpusEntry(path: corpusDirectory.appendingPathComponent("ringbuf_unreleased_reservation.c").path)
        let compiled = try CompiledEntry(entry)
        for side in [Side.reference] + Side.native {
            let instance: Instance
            do { instance = try compiled.instance(side) } catch { continue } // refused at load: the ring is never reached
            for _ in 0..<300 { _ = try instance.run(entry.inputs[0], dirty: false) }
            let object = try #require(instance.object)
            let produce = try object.program(named: "produce")
            let prepared = try side.engine().prepare(produce.program, configuration: produce.engineConfiguration(instructionLimit: corpusInstructionLimit))
            let run = try produce.makeRun(input: entry.inputs[0])
            let r0 = try withExtendedLifetime(run) { try prepared.run(run.input) }
            #expect(r0 == 1, "\(side): after 300 runs that kept their reservations, a reservation fails (r0 = \(r0))")
        }
    }
}

/// Checks of the harness itself: the pattern it leaves on the machine stack
/// and on the interpreter's stack is what an engine that skips its stack
/// clear would show, so the contract fails on such an engine.
@Suite struct HarnessTests {
    /// `r0 = *(u64 *)(r10 - 8)`, never written.
    static let readsUnwrittenStack = Program([.load(.double, dst: .r0, src: .r10, offset: -8), .exit], name: "unwritten")
    /// The same through a copy of r10, 256 bytes down (so the stack pointer escapes).
    static let readsUnwrittenStackThroughCopy = Program([
        .alu(.w64, .mov, dst: .r1, .register(.r10)),
        .load(.double, dst: .r0, src: .r1, offset: -256), .exit,
    ], name: "unwritten")

    @Test(.enabled(if: HostStack.fillsMachineStack, "under AddressSanitizer the harness cannot fill the machine stack"))
    func dirtiedStackIsSeenByAnUnclearedFrame() throws {
        #if arch(x86_64)
        // Proofs made by hand claim the stack is read only where written,
        // which is false: the JIT leaves its frame uncleared and reads the
        // machine stack, which must hold the pattern.
        let program = Self.readsUnwrittenStackThroughCopy
        let proofs = TestProofs.full(program, stackReadsInitialized: true, stackDepth: 256)
        let prepared = try X86_64JIT().prepare(program, configuration: EngineConfiguration(proofs: proofs))
        let input = RunInput(r1: 0, r2: 0, regions: MemoryRegions())
        let r0 = try HostStack.dirtied { try prepared.run(input) }
        let pattern = UInt64(HostStack.pattern) * 0x0101_0101_0101_0101
        #expect(r0 == pattern, "0x\(String(r0, radix: 16))")
        // With the true facts it reads zero, as on the interpreter.
        let honest = try X86_64JIT().prepare(program, configuration: EngineConfiguration())
        #expect(try HostStack.dirtied { try honest.run(input) } == 0)
        #endif
    }

    @Test func filledInterpreterStackIsSeen() throws {
        let program = Self.readsUnwrittenStack
        let input = RunInput(r1: 0, r2: 0, regions: MemoryRegions())
        let filled = try Side.filledInterpreter.engine().prepare(program, configuration: EngineConfiguration())
        let zeroed = try Side.reference.engine().prepare(program, configuration: EngineConfiguration())
        #expect(try filled.run(input) != 0)
        #expect(try zeroed.run(input) == 0)
    }

    @Test func outcomesCompareAsTheContractSays() {
        let a = Outcome.value(1, packet: [1, 2]), b = Outcome.value(1, packet: [1, 3])
        #expect(a.agrees(with: a, leak: false))
        #expect(!a.agrees(with: b, leak: false))
        #expect(a.agrees(with: b, leak: true))
        #expect(Outcome.error("x").agrees(with: .error("y"), leak: false))
        #expect(!Outcome.error("x").agrees(with: a, leak: true))
    }
}
