import BPFRuntime

/// One entry argument of an emulated run.
public enum EmulatedArgument: Hashable, Sendable, ExpressibleByIntegerLiteral {
    /// Passed unchanged.
    case value(UInt64)
    /// A host address; on 32-bit targets the machine passes its guest
    /// address instead (the host address must lie in one of the run's regions).
    case hostPointer(UInt64)

    public init(integerLiteral value: UInt64) { self = .value(value) }
}

/// What one successful run produced.
public struct EmulatedRun: Hashable, Sendable {
    /// The program's 64-bit result (r0).
    public var value: UInt64
    /// Native instructions executed (the trampolines, where helper calls happen, not included).
    public var instructionCount: UInt64
    /// Helper and runtime calls made.
    public var calls: Int
}

/// A JIT image loaded into an emulated machine, ready to run many times and
/// from many threads at once.
///
/// Each concurrent run takes a Unicorn engine from the machine's pool (or
/// builds one: about half a millisecond and 3 MiB), with the trampolines and
/// a private stack already mapped, maps the image into it if that engine
/// has not run the program before, and gives it back afterwards. Engines
/// keep their translated code between runs, so repeated runs cost a few
/// microseconds plus the emulation itself; the number of engines follows
/// the number of concurrent runs, not the number of programs.
public final class EmulatedProgram: PreparedProgram {
    public let machine: EmulatedMachine
    /// Address of the image's first byte.
    public let address: UInt64
    /// Bytes of code.
    public let size: Int
    /// Where execution starts.
    public let entryAddress: UInt64
    public let pcMap: NativePCMap?
    /// Default budget of executed native instructions per run.
    public let instructionLimit: UInt64

    let image: LoadedImage
    private let reservation: ImageReservation?

    init(machine: EmulatedMachine, image bytes: [UInt8], address: UInt64, entryOffset: Int, pcMap: NativePCMap?,
         instructionLimit: UInt64, reservation: ImageReservation?) throws(EmulatorError) {
        guard !bytes.isEmpty else { throw .invalidImage("the image is empty") }
        guard entryOffset >= 0, entryOffset < bytes.count else {
            throw .invalidImage("entry offset \(entryOffset) is outside the \(bytes.count)-byte image")
        }
        if machine.addressModel == .translated, address + UInt64(bytes.count) > UInt64(UInt32.max) {
            throw .invalidImage("a 32-bit target cannot run code at 0x\(String(address, radix: 16))")
        }
        let base = EmulatorPage.floor(address)
        image = try machine.registerImage { id throws(EmulatorError) in
            let pages = try HostPages(count: Int(address - base) + bytes.count)
            pages.fill(with: machine.architecture.trap)
            pages.write(bytes, at: Int(address - base))
            return LoadedImage(id: id, address: address, size: bytes.count, base: base, pages: pages, pcMap: pcMap)
        }
        self.machine = machine
        self.address = address
        self.size = bytes.count
        self.entryAddress = address + UInt64(entryOffset)
        self.pcMap = pcMap
        self.instructionLimit = instructionLimit
        self.reservation = reservation
        // Map the image into an engine now, so that a CPU or a mapping Unicorn
        // refuses is a load error rather than a failure of every run.
        try machine.prepareEngine(for: image)
    }

    deinit { machine.retireImage(image.id) }

    /// Runs the program once.
    ///
    /// - Parameters:
    ///   - arguments: up to five entry arguments (r1–r5); missing ones are 0.
    ///   - regions: the memory the program may touch besides its stack.
    ///   - machineOnly: memory the code may touch but helpers and runtime
    ///     calls may not (a JIT's run context, its tables): mapped for the
    ///     run, never handed to a call's `MemoryAccess`.
    ///   - callStack: with a machine whose calls do not see the machine stack
    ///     (`Configuration.callsSeeMachineStack` false), the part of it calls
    ///     may see: guest bounds `[low, high)`, read at each call (a JIT's
    ///     BPF stack, whose bounds its prologue stores). Translated to the
    ///     engine's own stack pages; bounds outside them permit nothing.
    ///   - instructionLimit: budget of native instructions (default: the program's).
    ///   - pointerWords: host addresses of 8-byte words holding host pointers
    ///     (`RunInput.pointerWords`); under translation the program sees them as
    ///     guest addresses, refreshed whenever host memory is copied in.
    public func run(
        arguments: [EmulatedArgument] = [], regions: MemoryRegions = MemoryRegions(), machineOnly: [MemoryRegion] = [],
        callStack: CallStackBounds? = nil, instructionLimit: UInt64? = nil, pointerWords: [UInt64] = []
    ) throws(ExecutionError) -> EmulatedRun {
        guard arguments.count <= 5 else {
            throw .unsupported(pc: 0, what: "more than five entry arguments")
        }
        let limit = instructionLimit ?? self.instructionLimit
        return try machine.withEngine { engine throws(ExecutionError) in
            try engine.execute(image, entry: entryAddress, arguments: arguments, regions: regions, machineOnly: machineOnly,
                               callStack: callStack, limit: limit, pointerWords: pointerWords)
        }
    }

    /// The engine protocol's run: r1 and r2 are entry arguments, passed as
    /// pointers when they point into one of the input's regions.
    public func run(_ input: RunInput) throws(ExecutionError) -> UInt64 {
        func argument(_ value: UInt64) -> EmulatedArgument {
            input.regions.regions.contains { $0.count > 0 && $0.permits(value, size: 0, write: false) }
                ? .hostPointer(value) : .value(value)
        }
        return try run(arguments: [argument(input.r1), argument(input.r2)], regions: input.regions).value
    }

}

/// The parts of a loaded program its engines need.
struct LoadedImage: Sendable {
    /// Unique within the machine; engines track what they have mapped by it.
    let id: UInt64
    let address: UInt64
    let size: Int
    /// First mapped page; the pages hold traps around the image.
    let base: UInt64
    let pages: HostPages
    let pcMap: NativePCMap?

    var mappedRange: ClosedRange<UInt64> { base...(base + UInt64(pages.count) - 1) }

    /// The BPF pc for a native address: via the program's map, else the
    /// byte offset into the image; -1 outside the image.
    func bpfPC(forNativeAddress native: UInt64) -> Int {
        guard native >= address, native - address < UInt64(size) else { return -1 }
        let offset = Int(native - address)
        guard let pcMap else { return offset }
        return pcMap.bpfPC(forNativeOffset: offset) ?? -1
    }

    /// The `count` bytes of code at `native`, when they lie in the mapped pages.
    func bytes(at native: UInt64, count: Int) -> [UInt8]? {
        guard native >= base, native - base + UInt64(count) <= UInt64(pages.count) else { return nil }
        return pages.read(at: Int(native - base), count: count)
    }
}

/// The guest bounds `[low, high)` of the part of the machine stack a run's
/// calls may see, read when a call checks an access (see `EmulatedProgram.run`).
public typealias CallStackBounds = @Sendable () -> (low: UInt64, high: UInt64)
