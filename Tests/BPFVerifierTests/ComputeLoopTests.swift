import BPFHelpers
import BPFInterpreter
import BPFISA
import BPFKit
import BPFLoader
import BPFRuntime
@testable import BPFVerifier
import Foundation
import Testing

/// Compute kernels over a buffer (Tests/Fixtures/verifier/compute_loops.c),
/// each as xdp and as mem: every access is proven (mem loops that run to
/// the length included: a copy of the counter moved by a constant and
/// compared with r2 bounds the counter through its link), proven runs
/// agree with the interpreter, and xdp loops (capped) are proven to end.
@Suite(.enabled(if: clangAvailable, "clang and the libbpf headers build the programs"))
struct ComputeLoopTests {
    static let file = "Tests/Fixtures/verifier/compute_loops.c"
    static let kernels = ["bytes", "words", "crc32", "bsort", "tokens", "checksum"]

    static func linked(_ name: String, _ type: String, maxInput: Int? = nil) throws -> LinkedProgram {
        var request = LoadRequest(type: type, programName: name)
        request.maxInput = maxInput
        return try ProgramFile.load(path: repository.appendingPathComponent(file).path, request).linked
    }

    static var variants: [(String, String)] {
        kernels.flatMap { [("\($0)_xdp", "xdp"), ("\($0)_mem", "mem")] }
    }

    /// Mem loops bounded only by the input's length are explored iteration
    /// by iteration up to `unrollLimit`, then widened. At the default input
    /// maximum (4,096 bytes) every iteration fits and their end is proven;
    /// at the largest (65,535) they are widened: safe, but their end is not
    /// proven (the runaway guard stays).
    static let memLoopsToTheLength: Set<String> = ["bytes_mem", "words_mem", "crc32_mem", "tokens_mem", "checksum_mem"]

    @Test(arguments: variants)
    func everyAccessIsProven(_ name: String, _ type: String) throws {
        let linked = try Self.linked(name, type)
        let report = linked.verification
        #expect(report.gaveUp == nil, "\(name): \(report.gaveUp ?? "")")
        #expect(report.refusal == nil)
        #expect(report.accessCount > 0)
        #expect(report.provenAccessCount == report.accessCount, "\(name): \(report.unproven)")
        #expect(linked.proofs.terminates, "\(name): \(report.terminationProblem ?? "terminates")")
    }

    @Test(arguments: variants.filter { $0.1 == "mem" })
    func atTheLargestMaximumLoopsToTheLengthStaySafeButUnended(_ name: String, _ type: String) throws {
        let linked = try Self.linked(name, type, maxInput: MemProgramType.largestMaxInput)
        let report = linked.verification
        #expect(report.refusal == nil && report.gaveUp == nil, "\(name): \(report.refusal ?? report.gaveUp ?? "")")
        #expect(report.provenAccessCount == report.accessCount, "\(name): \(report.unproven)")
        #expect(linked.proofs.terminates == !Self.memLoopsToTheLength.contains(name), "\(name): \(report.terminationProblem ?? "terminates")")
    }

    /// The exit of a loop tested at its bottom keeps a state without
    /// stopping the join just after it from keeping one: checksum_mem's
    /// exits each carry their own counter, live after the loop, and are
    /// pruned at that join (26,685 visits; 83,987 when the exit's kept state
    /// restarted the kept-state spacing and each exit ran the fold unpruned).
    @Test func theJoinAfterALoopExitStillKeepsAState() throws {
        let report = try Self.linked("checksum_mem", "mem").verification
        #expect(report.steps < 40_000, "\(report.steps) visits")
    }

    /// Proven runs give the interpreter's results on the JIT, over lengths
    /// around every boundary (a word, the tail byte, the sorted array, the cap).
    @Test(arguments: variants)
    func provenRunsAgreeWithTheInterpreter(_ name: String, _ type: String) throws {
        let linked = try Self.linked(name, type)
        let lengths = type == "mem" ? [0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 100, 1535, 1536, 1537, 3000]
                                    : [14, 15, 16, 17, 100, 1535, 1536, 1537, 3000]
        let engines: [any ExecutionEngine] = [Interpreter(), try EngineCatalog.engine(.jit)]
        let text = Array("GET /index.html 200 OK; 42 apples, 7 pears\n\tand 1999 more! ".utf8)
        for length in lengths {
            let input = (0..<length).map { i in i % 3 == 0 ? text[i % text.count] : UInt8(truncatingIfNeeded: i &* 37 &+ 11) }
            var results: [String] = []
            for engine in engines {
                let prepared = try engine.prepare(linked.program, configuration: linked.engineConfiguration())
                let run = try linked.makeRun(input: input)
                results.append(withExtendedLifetime(run) { () -> String in
                    do throws(ExecutionError) { return "\(try prepared.run(run.input))" } catch { return "error \(error)" }
                })
            }
            #expect(Set(results).count == 1, "\(name) over \(length) bytes: \(results)")
            #expect(!results[0].hasPrefix("error"), "\(name) over \(length) bytes: \(results[0])")
        }
    }
}

/// Linked scalars (`ScalarLink`, the kernel's scalar ids and
/// `BPF_ADD_CONST`): a bound learned on a copy of a number moved by a
/// constant reaches the number, and only while the link holds. Each
/// program reads 4 bytes at r1 + r3 after testing a copy r4 of r3; the
/// attacks (kept checked) are run on every engine by the adversarial corpus
/// (`linked_scalars.c`).
struct LinkedScalarTests {
    static func verify(_ body: [Instruction]) throws -> VerificationReport {
        let program = Program(body + [.alu(.w64, .mov, dst: .r0, .immediate(0)), .exit], name: "links")
        var environment = VerifierEnvironment(r2IsSetAtEntry: true)
        environment.r2IsInputLength = true
        environment.inputLengthLimit = MemProgramType.largestMaxInput
        return Verifier.verify(program, environment: environment)
    }

    /// r3 = a byte of the input plus 8 (8...263), unless `r3` says otherwise.
    static func program(copyAndMove: [Instruction], then: [Instruction] = [], read: Int = 4, r3: Instruction? = nil) -> [Instruction] {
        [
            .branch(.w64, .lt, dst: .r2, .immediate(16), offset: Int16(7 + copyAndMove.count + then.count)),
            r3 ?? .load(.byte, dst: .r3, src: .r1, offset: 1),
            .alu(.w64, .add, dst: .r3, .immediate(r3 == nil ? 8 : 0)),
        ] + copyAndMove + then + [
            .branch(.w64, .gt, dst: .r4, .register(.r2), offset: 3),
            .alu(.w64, .mov, dst: .r5, .register(.r1)),
            .alu(.w64, .add, dst: .r5, .register(.r3)),
            .load(read == 4 ? .word : .double, dst: .r6, src: .r5, offset: 0),
            .alu(.w64, .mov, dst: .r0, .immediate(0)),
        ]
    }

    static let copyPlus4: [Instruction] = [.alu(.w64, .mov, dst: .r4, .register(.r3)), .alu(.w64, .add, dst: .r4, .immediate(4))]

    static func readProven(_ report: VerificationReport) -> Bool {
        report.provenAccessCount == report.accessCount
    }

    @Test func aBoundOnTheCopyReachesTheNumber() throws {
        let report = try Self.verify(Self.program(copyAndMove: Self.copyPlus4))
        #expect(report.refusal == nil)
        #expect(Self.readProven(report), "\(report.unproven)")
    }

    /// `i + 3 <= len` does not make a 4-byte read at i safe.
    @Test func anOffByOneKeepsItsCheck() throws {
        let report = try Self.verify(Self.program(copyAndMove: [.alu(.w64, .mov, dst: .r4, .register(.r3)), .alu(.w64, .add, dst: .r4, .immediate(3))]))
        #expect(!Self.readProven(report))
    }

    /// Any other write to either register breaks the link.
    @Test(arguments: [
        Instruction.load(.byte, dst: .r3, src: .r1, offset: 2),
        .alu(.w64, .mov, dst: .r3, .register(.r7)),
        .alu(.w64, .add, dst: .r3, .register(.r3)),
        .alu(.w32, .add, dst: .r4, .immediate(0)),
        .alu(.w64, .lsh, dst: .r4, .immediate(0)),
    ])
    func anotherWriteBreaksTheLink(_ write: Instruction) throws {
        let body = [Instruction.load(.byte, dst: .r7, src: .r1, offset: 3)] + Self.copyPlus4
        let report = try Self.verify(Self.program(copyAndMove: body, then: [write]))
        #expect(!Self.readProven(report), "\(write)")
    }

    /// r3 unknown: r3 + 4 may wrap, so `r3 + 4 <= len` bounds nothing.
    @Test func aDeltaThatMayWrapBoundsNothing() throws {
        let report = try Self.verify(Self.program(copyAndMove: Self.copyPlus4, r3: .load(.double, dst: .r3, src: .r1, offset: 8)))
        #expect(!Self.readProven(report))
    }

    /// Pruning: a state whose registers are linked is not included in one
    /// where they are linked with another difference, nor in one where the
    /// old state's link is missing; a link the old state lacks is fine.
    @Test func inclusionMatchesLinks() {
        func state(_ r3: ScalarLink?, _ r4: ScalarLink?) -> State {
            var registers = Array(repeating: Value.uninitialized, count: 11)
            var a = Scalar(unsigned: 0, 100), b = Scalar(unsigned: 4, 104)
            a.link = r3
            b.link = r4
            registers[3] = .scalar(a)
            registers[4] = .scalar(b)
            return State(pc: 0, frames: [Frame(registers: registers, returnPC: -1)], packetRanges: [:])
        }
        let linked = state(ScalarLink(id: 1, delta: 0), ScalarLink(id: 1, delta: 4))
        let shifted = state(ScalarLink(id: 7, delta: 10), ScalarLink(id: 7, delta: 14))
        let otherDifference = state(ScalarLink(id: 1, delta: 0), ScalarLink(id: 1, delta: 5))
        let twoIDs = state(ScalarLink(id: 1, delta: 0), ScalarLink(id: 2, delta: 4))
        let unlinked = state(nil, nil)
        #expect(shifted.isIncluded(in: linked))
        #expect(!otherDifference.isIncluded(in: linked))
        #expect(!twoIDs.isIncluded(in: linked))
        #expect(!unlinked.isIncluded(in: linked))
        #expect(linked.isIncluded(in: unlinked))
    }
}
