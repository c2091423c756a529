import BPFHelpers
import BPFInterpreter
import BPFISA
import BPFKit
import BPFLoader
import BPFRuntime
@testable import BPFVerifier
import Foundation
import Testing

/// `mem` programs: r1 is the input and r2 its length, and accesses through
/// r1 are proven against what comparisons with r2 (or with r1 + r2)
/// establish, as packet accesses are against data_end. The attacks (an
/// access one past each proven range) are in the adversarial corpus
/// (`mem_input_length.c`), where every engine must fail them as the
/// interpreter does.
@Suite(.enabled(if: clangAvailable, "clang and the libbpf headers build the programs"))
struct InputLengthTests {
    static let file = "Tests/Fixtures/verifier/mem_loops.c"

    static func linked(_ name: String, maxInput: Int? = nil) throws -> LinkedProgram {
        var request = LoadRequest(type: "mem", programName: name)
        request.maxInput = maxInput
        return try ProgramFile.load(path: repository.appendingPathComponent(file).path, request).linked
    }

    static func accesses(_ program: Program) -> Int {
        program.instructions.filter {
            switch $0 {
            case .load, .loadSignExtend, .store, .storeImmediate, .atomic: true
            default: false
            }
        }.count
    }

    /// (program, terminates at the largest maximum): every access proven at
    /// either maximum; at the default (4,096 bytes) every loop ends, at the
    /// largest (65,535) the loop to the length is not bounded (its runs
    /// keep the runaway guard).
    @Test(arguments: [("by_index", false), ("by_index_capped", true), ("by_pointer", true), ("header", true)],
          [nil, MemProgramType.largestMaxInput])
    func everyAccessIsProven(_ program: (String, Bool), _ maxInput: Int?) throws {
        let (name, terminatesAtLargest) = program
        let terminates = maxInput == nil || terminatesAtLargest
        let linked = try Self.linked(name, maxInput: maxInput)
        let report = linked.verification
        #expect(report.gaveUp == nil, "\(report.gaveUp ?? "")")
        let total = Self.accesses(linked.program)
        #expect(total > 0)
        #expect(linked.proofs.safeAccessCount == total, "\(name): \(report.unproven)")
        #expect(linked.proofs.terminates == terminates, "\(name): \(report.terminationProblem ?? "terminates")")
    }

    /// Without the length (as an XDP-less program that knows nothing of r2,
    /// or as a tail-call target, which a tail call enters with r2 holding
    /// the program array) nothing is proven through r1.
    @Test func aTailCallTargetIsVerifiedWithoutTheLength() throws {
        let linked = try Self.linked("header")
        #expect(linked.proofs.safeAccessCount == 2)
        let target = linked.engineConfiguration(asTailCallTarget: true)
        #expect(target.proofs?.safeAccessCount == 0)
        #expect(linked.engineConfiguration().proofs?.safeAccessCount == 2)
    }

    /// The proven programs give the interpreter's results on the JIT over
    /// inputs of every length around the boundaries (0 included).
    @Test(arguments: ["by_index", "by_index_capped", "by_pointer", "header"])
    func provenRunsAgreeWithTheInterpreter(_ name: String) throws {
        let linked = try Self.linked(name)
        let engines: [any ExecutionEngine] = [Interpreter(), try EngineCatalog.engine(.jit)]
        for length in [0, 1, 2, 13, 14, 15, 100, 1513, 1514, 1515, 3000] {
            let input = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            var results: [String] = []
            for engine in engines {
                let prepared = try engine.prepare(linked.program, configuration: linked.engineConfiguration())
                let run = try linked.makeRun(input: input)
                let result = withExtendedLifetime(run) { () -> String in
                    do throws(ExecutionError) { return "\(try prepared.run(run.input))" } catch { return "error" }
                }
                results.append(result)
            }
            #expect(Set(results).count == 1, "\(name) over \(length) bytes: \(results)")
            #expect(results.first != "error", "\(name) over \(length) bytes")
        }
    }

    /// Bounds against the length: learned from unsigned comparisons,
    /// moved by additions of constants that cannot wrap, dropped otherwise.
    @Test func boundsFollowOnlyWhatKeepsThemTrue() {
        let exact = Scalar.unknown.bounded(by: LengthBound(slack: 0, exact: true))!
        // len - 1 may wrap (len may be 0): no bound.
        let minusOne = Scalar.withLength(.add, .w64, exact, Scalar(constant: UInt64(bitPattern: -1)),
                                         result: Scalar.apply(.add, .w64, exact, Scalar(constant: UInt64(bitPattern: -1))))
        #expect(minusOne.length == nil)
        // With len >= 1 known it cannot: exact, slack 1.
        var atLeastOne = exact
        atLeastOne.umin = 1
        atLeastOne = atLeastOne.normalized()!
        let moved = Scalar.withLength(.add, .w64, atLeastOne, Scalar(constant: UInt64(bitPattern: -1)),
                                      result: Scalar.apply(.add, .w64, atLeastOne, Scalar(constant: UInt64(bitPattern: -1))))
        #expect(moved.length == LengthBound(slack: 1, exact: true))
        // Anything but a constant addition drops it.
        for op in [ALUOperation.mul, .or, .lsh, .xor, .sub] {
            let r = Scalar.withLength(op, .w64, atLeastOne, atLeastOne, result: Scalar.apply(op, .w64, atLeastOne, atLeastOne))
            #expect(r.length == nil, "\(op)")
        }
        // A 32-bit operation drops it; a 32-bit move of a number that may not fit keeps only the upper bound.
        #expect(Scalar.withLength(.add, .w32, atLeastOne, Scalar(constant: 1), result: .any32).length == nil)
        #expect(Scalar.truncated32(atLeastOne).length == LengthBound(slack: 0, exact: false))
        // Inclusion: an exact bound includes only itself; a looser slack includes tighter ones.
        #expect(LengthBound.includes(LengthBound(slack: 2, exact: false), in: LengthBound(slack: 1, exact: false)))
        #expect(!LengthBound.includes(LengthBound(slack: 0, exact: false), in: LengthBound(slack: 1, exact: false)))
        #expect(!LengthBound.includes(LengthBound(slack: 1, exact: false), in: LengthBound(slack: 1, exact: true)))
        #expect(!LengthBound.includes(nil, in: LengthBound(slack: 0, exact: false)))
        #expect(LengthBound.includes(nil, in: nil))
    }
}

/// A branchy tokenizer over 512 bytes (Tests/Fixtures/verifier/tokenizer.c):
/// a switch on byte classes, a state variable and counters in a bounded
/// loop. Dead registers and numbers that cannot matter (the counters) are
/// forgotten at pruning points, so it verifies fully, as XDP and as mem,
/// where it used to give up after a million visits. (Time is measured by
/// `bpfkit verify --stats` in a release build, not here.)
@Suite(.enabled(if: clangAvailable, "clang and the libbpf headers build the programs"))
struct TokenizerTests {
    @Test(arguments: [("tokenizer", "xdp"), ("tokenizer_mem", "mem")])
    func everyAccessAndTerminationAreProven(_ name: String, _ type: String) throws {
        let linked = try ProgramFile.load(path: repository.appendingPathComponent("Tests/Fixtures/verifier/tokenizer.c").path,
                                          LoadRequest(type: type, programName: name)).linked
        let report = linked.verification
        #expect(report.gaveUp == nil, "\(report.gaveUp ?? "")")
        #expect(report.accessCount > 20)
        #expect(report.provenAccessCount == report.accessCount, "\(report.unproven)")
        #expect(linked.proofs.terminates, "\(report.terminationProblem ?? "")")
        #expect(report.steps < 500_000, "\(report.steps) visits")
    }

    /// Proven runs agree with the interpreter on text, digits, strings and bytes of every class.
    @Test func provenRunsAgreeWithTheInterpreter() throws {
        let text = Array("Hello, world! 42 apples; \"quoted 7 text\" and 1999 more: ok?\t\r\n".utf8)
        let inputs = [text, Array(repeating: UInt8(ascii: "a"), count: 600), (0..<512).map { UInt8($0 & 0xff) }, []]
        let linked = try ProgramFile.load(path: repository.appendingPathComponent("Tests/Fixtures/verifier/tokenizer.c").path,
                                          LoadRequest(type: "mem", programName: "tokenizer_mem")).linked
        for input in inputs {
            var results: [String] = []
            for engine in [Interpreter(), try EngineCatalog.engine(.jit)] as [any ExecutionEngine] {
                let prepared = try engine.prepare(linked.program, configuration: linked.engineConfiguration())
                let run = try linked.makeRun(input: input)
                results.append(withExtendedLifetime(run) { () -> String in
                    do throws(ExecutionError) { return "\(try prepared.run(run.input))" } catch { return "error \(error)" }
                })
            }
            #expect(Set(results).count == 1 && !results[0].hasPrefix("error"), "\(input.count) bytes: \(results)")
        }
    }
}
