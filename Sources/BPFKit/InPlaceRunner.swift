import BPFHelpers
import BPFJIT
import BPFRuntime

/// A prepared program bound to an `InPlaceBuffer` the host owns: each `run()`
/// runs it on the buffer in place. Nothing is copied, allocated or retained
/// per run by this path; what a run costs beyond the program is what its
/// engine needs for it:
///
/// - JIT code that needs no run context (every access proven, no runaway
///   guard, no helper calls — a verified `r0 = 42`) is one compare (the
///   length against the maximum its proofs assume) and one indirect native
///   call, after the buffer's `reset()` (nothing for `mem`, three stores for
///   `xdp`);
/// - other JIT code gets a run context on the stack (and, if it calls
///   helpers, the `RunLifetime` bracket);
/// - the interpreter runs on an `InterpreterRunSite`: the run's block and
///   machine made once for the buffer's input (again when its `length`
///   changes), each run starting the block and entering the dispatch loop;
///   a program that touches only registers (no memory, calls or r10) skips
///   the block and machine altogether (`InterpretedProgram.registersOnly`).
///
/// One thread at a time, like its buffer.
public final class InPlaceRunner {
    public let program: LoadedProgram
    public let buffer: InPlaceBuffer
    let prepared: any PreparedProgram
    /// The JIT entry to call directly, when the code needs no run context.
    let direct: NativeProgram.Entry?
    /// The longest input (r2) the direct entry's code may run on: what its
    /// proofs assume (`NativeProgram.inputLengthLimit`), `.max` for none.
    /// Checked per run, as `NativeProgram.run` does, whatever made the buffer.
    let directLimit: UInt64
    /// For an interpreted program: its run site for the buffer's input, made
    /// for the buffer's `length` of `siteLength` (the buffer rebuilds its
    /// input only when its length changes).
    private var site: InterpreterRunSite?
    private var siteLength: Int

    init(program: LoadedProgram, buffer: InPlaceBuffer) {
        self.program = program
        self.buffer = buffer
        prepared = program.prepared
        let native = program.prepared as? NativeProgram
        direct = native?.contextFreeEntry
        directLimit = native?.inputLengthLimit.map { UInt64($0) } ?? .max
        site = InterpreterRunSite(prepared, input: buffer.input)
        siteLength = buffer.length
    }

    /// The interpreter's run site for the buffer's input as it is now (nil for other engines).
    @inline(__always)
    private func currentSite() -> InterpreterRunSite? {
        guard let site else { return nil }
        if siteLength == buffer.length { return site }
        let rebuilt = InterpreterRunSite(prepared, input: buffer.input)
        self.site = rebuilt
        siteLength = buffer.length
        return rebuilt
    }

    /// Refuses an input longer than the direct entry's code assumes.
    @inline(__always)
    private func checkDirectLength(_ r2: UInt64) throws(ExecutionError) {
        if r2 > directLimit { throw .inputTooLong(length: r2, maximum: Int(directLimit)) }
    }

    /// Runs once on the buffer as it is now and returns r0; the buffer keeps what the program wrote.
    public func run() throws(ExecutionError) -> UInt64 {
        buffer.reset()
        if let direct {
            let r2 = buffer.r2
            try checkDirectLength(r2)
            return direct(buffer.r1, r2, nil)
        }
        if let site = currentSite() { return try site.run() }
        return try prepared.run(buffer.input)
    }

    /// Runs `count` times (at least once) and returns the last r0.
    public func run(times count: Int) throws(ExecutionError) -> UInt64 {
        var r0: UInt64 = 0
        if let direct {
            let r1 = buffer.r1, r2 = buffer.r2
            try checkDirectLength(r2)
            if buffer.resetsPerRun {
                for _ in 0..<max(count, 1) {
                    buffer.reset()
                    r0 = direct(r1, r2, nil)
                }
            } else {
                for _ in 0..<max(count, 1) { r0 = direct(r1, r2, nil) }
            }
            return r0
        }
        if let site = currentSite() {
            for _ in 0..<max(count, 1) {
                buffer.reset()
                r0 = try site.run()
            }
            return r0
        }
        // The input is read once for the batch (each run borrows it).
        let input = buffer.input
        for _ in 0..<max(count, 1) {
            buffer.reset()
            r0 = try prepared.run(input)
        }
        return r0
    }
}

extension LoadedProgram {
    /// A buffer of the program's type (`capacity` bytes for `mem`; one frame
    /// for `xdp`) bound to this program, to run on in place (`InPlaceBuffer`
    /// states the layout and headroom rules).
    /// Whether this program can run in place (`mem` and `xdp` programs on
    /// an engine whose memory has the host's byte order).
    public var runsInPlace: Bool {
        byteOrder == .host && (linked.type.name == ProgramTypes.mem.name || linked.type.name == ProgramTypes.xdp.name)
    }

    public func makeInPlaceRunner(capacity: Int = 0) throws(ProgramRunError) -> InPlaceRunner {
        guard byteOrder == .host else {
            throw .unsupportedType("\(linked.type.name) on a \(byteOrder == .big ? "big" : "little")-endian engine")
        }
        return InPlaceRunner(program: self, buffer: try InPlaceBuffer(type: linked.type, capacity: capacity, maps: linked.maps.regions))
    }

    /// Runs `count` times on one in-place buffer holding `input` (as the
    /// kernel's `BPF_PROG_TEST_RUN` repeats a program over one `data_in`:
    /// each run sees what the previous left; for `xdp` the packet pointers
    /// are put back before each run), timing batches of runs as wholes so
    /// the clock's own cost is not in the figure. Returns the last run's
    /// result and the nanoseconds per run: the mean over all runs and the
    /// median of the batches' means.
    public func measureInPlace(input: [UInt8], count: Int) throws -> InPlaceMeasurement {
        let runner = try makeInPlaceRunner(capacity: input.count)
        try runner.buffer.write(input)
        let count = max(count, 1)
        // Batches of about a millisecond for short programs, and at most 64 batches' worth of clock reads.
        let batchSize = max(1, min(count, max(count / 64, 1 << 14)))
        var total: Duration = .zero
        var batchMeans: [Double] = []
        var done = 0, r0: UInt64 = 0
        let clock = ContinuousClock()
        while done < count {
            let n = min(batchSize, count - done)
            let start = clock.now
            r0 = try runner.run(times: n)
            let elapsed = clock.now - start
            total += elapsed
            batchMeans.append(Self.nanoseconds(elapsed) / Double(n))
            done += n
        }
        batchMeans.sort()
        return InPlaceMeasurement(result: RunResult(returnValue: r0, output: runner.buffer.output()),
                                  meanNanoseconds: Self.nanoseconds(total) / Double(count),
                                  medianBatchNanoseconds: batchMeans[batchMeans.count / 2], runs: count)
    }

    static func nanoseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1e9 + Double(d.components.attoseconds) / 1e9
    }
}

/// What `LoadedProgram.measureInPlace` measured.
public struct InPlaceMeasurement: Sendable {
    /// The last run's r0 and the buffer as it left it.
    public var result: RunResult
    /// Nanoseconds per run over all runs.
    public var meanNanoseconds: Double
    /// The median over batches of each batch's nanoseconds per run.
    public var medianBatchNanoseconds: Double
    public var runs: Int

    public init(result: RunResult, meanNanoseconds: Double, medianBatchNanoseconds: Double, runs: Int) {
        self.result = result
        self.meanNanoseconds = meanNanoseconds
        self.medianBatchNanoseconds = medianBatchNanoseconds
        self.runs = runs
    }
}
