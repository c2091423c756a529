import BPFHelpers
import BPFInterpreter
import BPFISA
@testable import BPFKit
import BPFLoader
import BPFMaps
import BPFRuntime
import Testing

/// The in-place entries refuse an input over the program's maximum
/// themselves, whoever made the buffer or the input: the interpreter's run
/// site, the in-place runner's direct JIT entry and `JITFunction`'s direct
/// call. (A buffer made by `makeInPlaceRunner` cannot be that long; these
/// tests make one for a wider type, as a host with its own buffers could.)
struct InPlaceInputMaximumTests {
    /// 4,097 bytes: one over the default maximum. The program's stack store
    /// (`InputMaximumTests.program`) is still inside the frame at this
    /// length, so a run that is not refused returns 4097 >> 4 = 256.
    static let count = 4097

    static func foreignBuffer() throws -> InPlaceBuffer {
        let buffer = try InPlaceBuffer(type: MemProgramType(maxInput: MemProgramType.largestMaxInput), capacity: count,
                                       maps: MapRegionTable([]))
        try buffer.write(Array(repeating: 1, count: count))
        return buffer
    }

    static let refusal = ExecutionError.inputTooLong(length: UInt64(count), maximum: 4096)

    static func outcome(_ body: () throws(ExecutionError) -> UInt64) -> Result<UInt64, ExecutionError> {
        do throws(ExecutionError) { return .success(try body()) } catch { return .failure(error) }
    }

    @Test func theInterpretersRunSiteRefusesALongerInput() throws {
        let loaded = try LoadedProgram(InputMaximumTests.program, engine: .interpreter)
        #expect(loaded.linked.proofs.inputLengthLimit == 4096)
        let buffer = try Self.foreignBuffer()
        let site = try #require(InterpreterRunSite(loaded.prepared, input: buffer.input))
        #expect(Self.outcome { () throws(ExecutionError) in try site.run() } == .failure(Self.refusal))
        // Through the runner too, once and in a batch.
        let runner = InPlaceRunner(program: loaded, buffer: buffer)
        #expect(Self.outcome { () throws(ExecutionError) in try runner.run() } == .failure(Self.refusal))
        #expect(Self.outcome { () throws(ExecutionError) in try runner.run(times: 3) } == .failure(Self.refusal))
        // At the maximum it runs.
        try buffer.setLength(4096)
        #expect(try runner.run() == 256)
    }

    @Test func theDirectJITEntryRefusesALongerInput() throws {
        let loaded = try LoadedProgram(InputMaximumTests.program, engine: .jit)
        let native = try #require(loaded.prepared as? NativeProgram)
        #expect(native.inputLengthLimit == 4096)
        let runner = InPlaceRunner(program: loaded, buffer: try Self.foreignBuffer())
        #expect(runner.direct != nil, "the program's code needs no run context")
        #expect(Self.outcome { () throws(ExecutionError) in try runner.run() } == .failure(Self.refusal))
        #expect(Self.outcome { () throws(ExecutionError) in try runner.run(times: 3) } == .failure(Self.refusal))
        let function = native.function
        #expect(Self.outcome { () throws(ExecutionError) in try function(runner.buffer.r1, UInt64(Self.count)) }
                == .failure(Self.refusal))
        try runner.buffer.setLength(4096)
        #expect(try runner.run() == 256)
        #expect(try function(runner.buffer.r1, 4096) == 256)
    }
}
