import BPFHelpers
import BPFInterpreter
import BPFISA
import BPFKit
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFVerifier
import Testing

/// The mem input maximum (`MemProgramType.maxInput`) is an assumption the
/// verifier's proofs rest on, not only a bound on loops: a program may turn
/// r2 into an offset that is in bounds only while r2 <= maximum. Every
/// engine must refuse a longer input at its run entry, whoever built the
/// run (`ProgramProofs.inputLengthLimit`, `ExecutionError.inputTooLong`).
struct InputMaximumTests {
    /// `r3 = r2 >> 4` is in `[0, 256]` for the default maximum of 4,096
    /// bytes, so the byte store at `r10 - 257 + r3` lies in `[-257, -1]`,
    /// inside the frame: proven, and so unchecked on the JIT. An input of
    /// 4,112 bytes or more would put it at r10 + 0 and above, outside the
    /// frame. The program returns r3.
    static let program = Program([
        .alu(.w64, .mov, dst: .r3, .register(.r2)),
        .alu(.w64, .rsh, dst: .r3, .immediate(4)),
        .alu(.w64, .mov, dst: .r4, .register(.r10)),
        .alu(.w64, .add, dst: .r4, .immediate(-257)),
        .alu(.w64, .add, dst: .r4, .register(.r3)),
        .storeImmediate(.byte, dst: .r4, offset: 0, imm: 1),
        .alu(.w64, .mov, dst: .r0, .register(.r3)),
        .exit,
    ], name: "offset_from_length")

    static func engines() throws -> [any ExecutionEngine] {
        [Interpreter(), try EngineCatalog.engine(.jit)]
    }

    /// A run over `count` bytes whose memory the caller built (as BPFMatrix
    /// and the bench runners do), not through the program's own `makeRun`.
    static func foreignRun(_ count: Int) throws -> any ProgramRun {
        try MemProgramType(maxInput: MemProgramType.largestMaxInput).makeRun(input: Array(repeating: 7, count: count),
                                                                             maps: MapRegionTable([]))
    }

    @Test func theDefaultMaximumIsOnePage() {
        #expect(MemProgramType().maxInput == 4096)
        #expect(MemProgramType().maxInputLength == 4096)
        #expect(MemProgramType.invalidMaxInput(65536) != nil)
        #expect(MemProgramType.invalidMaxInput(65535) == nil)
    }

    @Test func theStoreIsProvenOnlyUnderTheMaximum() throws {
        let linked = try LinkedProgram(program: Self.program, type: MemProgramType())
        #expect(linked.verification.refusal == nil)
        #expect(linked.verification.provenAccessCount == linked.verification.accessCount)
        #expect(linked.proofs.inputLengthLimit == 4096)
        // At the largest maximum the same store is not proven (r3 reaches 4,095).
        let wide = try LinkedProgram(program: Self.program, type: MemProgramType(maxInput: MemProgramType.largestMaxInput))
        #expect(wide.verification.provenAccessCount < wide.verification.accessCount)
    }

    @Test func runsAtTheMaximumGiveTheRightResult() throws {
        let linked = try LinkedProgram(program: Self.program, type: MemProgramType())
        for engine in try Self.engines() {
            let prepared = try engine.prepare(linked.program, configuration: linked.engineConfiguration())
            for count in [0, 17, 4096] {
                let run = try linked.makeRun(input: Array(repeating: 1, count: count))
                let r0 = try withExtendedLifetime(run) { try prepared.run(run.input) }
                #expect(r0 == UInt64(count >> 4), "\(engine.name), \(count) bytes")
            }
        }
    }

    /// One byte over the maximum: the program's own run refuses it, and so
    /// does every engine given a run built elsewhere.
    @Test(arguments: [4097, 4112, 65535])
    func aLongerInputIsRefusedOnEveryEntry(_ count: Int) throws {
        let linked = try LinkedProgram(program: Self.program, type: MemProgramType())
        #expect(throws: ObjectLoadError.self) { _ = try linked.makeRun(input: Array(repeating: 1, count: count)) }
        for engine in try Self.engines() {
            let prepared = try engine.prepare(linked.program, configuration: linked.engineConfiguration())
            let run = try Self.foreignRun(count)
            let outcome: Result<UInt64, ExecutionError> = withExtendedLifetime(run) {
                do throws(ExecutionError) { return .success(try prepared.run(run.input)) } catch { return .failure(error) }
            }
            #expect(outcome == .failure(.inputTooLong(length: UInt64(count), maximum: 4096)), "\(engine.name): \(outcome)")
            if case .failure(let error) = outcome {
                #expect(error.description.contains("over the program's maximum input of 4096 bytes"))
            }
        }
        // In-place buffers cannot be made longer than the program's maximum either.
        #expect(throws: ProgramRunError.self) { _ = try InPlaceBuffer(type: MemProgramType(), capacity: count, maps: MapRegionTable([])) }
    }
}
