import BPFISA
import BPFRuntime

/// A program decoded for the interpreter. Immutable and `Sendable`: every
/// run gets its own registers, frames and stack, so any number of threads
/// may run the same prepared program at once.
struct InterpretedProgram: PreparedProgram {
    let code: [DecodedInstruction]
    /// Helpers called by number, indexed by the `imm` of `callHelper`.
    let helpers: [Helper]
    /// All helpers, for calls through a register (`callx`), whose number is known only at run time.
    let registry: HelperRegistry
    /// Why each `unsupported` instruction cannot run, indexed by its `imm`.
    let unsupported: [String]
    let instructionLimit: UInt64

    func run(_ input: RunInput) throws(ExecutionError) -> UInt64 {
        let layout = RunLayout()
        // Registers, frames and stack live in one block per run, on the
        // thread's stack when it fits: no heap traffic and no sharing.
        return try withUnsafeTemporaryAllocation(byteCount: layout.byteCount, alignment: 16) {
            (block) throws(ExecutionError) -> UInt64 in
            let base = block.baseAddress.unsafelyUnwrapped
            let words = base.initializeMemory(as: UInt64.self, repeating: 0, count: layout.wordCount)
            // The stack starts zeroed so that a program never reads what a
            // previous run (or the host) left there.
            let stack = (base + layout.stackOffset).initializeMemory(as: UInt8.self, repeating: 0, count: layout.stackBytes)
            let stackLow = UInt64(UInt(bitPattern: stack))
            let machine = Machine(
                program: self, layout: layout,
                registers: words, frames: words + RunLayout.registerSlots,
                stackTop: stackLow + UInt64(layout.stackBytes),
                memory: HostMemory(stackLow: stackLow, stackBytes: layout.stackBytes, regions: input.regions,
                                   dynamicRegion: input.dynamicRegion))
            machine.registers[1] = input.r1
            machine.registers[2] = input.r2
            machine.registers[10] = machine.stackTop
            return try code.withUnsafeBufferPointer { (code) throws(ExecutionError) -> UInt64 in
                try machine.execute(code.baseAddress.unsafelyUnwrapped)
            }
        }
    }
}

/// Where one run keeps its state, in a single block:
///
///     offset 0                      registers r0–r10 (16 slots of 8 bytes)
///     offset 128                    saved frames: per local call, the return
///                                   slot and the caller's r6–r9 (5 words)
///     offset stackOffset            stack, all frames, 16-byte aligned:
///
///     stackLow                                                      stackTop
///     +--------------+--------------+-- ... --+--------------+--------------+
///     | frame 7      | frame 6      |         | frame 1      | frame 0      |
///     +--------------+--------------+-- ... --+--------------+--------------+
///                                             ^ r10 at depth 1 ^ r10 of the entry function
///
/// Each frame is `ExecutionLimits.stackSizePerFrame` bytes; a local call at
/// depth d runs with r10 = stackTop - d * frame size.
struct RunLayout {
    static let registerSlots = 16
    static let frameWords = 5
    let frameBytes = ExecutionLimits.stackSizePerFrame
    let maxFrames = ExecutionLimits.maxCallFrames

    var wordCount: Int { Self.registerSlots + maxFrames * Self.frameWords }
    var stackOffset: Int { (wordCount * 8 + 15) & ~15 }
    var stackBytes: Int { frameBytes * maxFrames }
    var byteCount: Int { stackOffset + stackBytes }
}

/// The state of one run, handed to the dispatch loop.
struct Machine {
    let program: InterpretedProgram
    let layout: RunLayout
    let registers: UnsafeMutablePointer<UInt64>
    let frames: UnsafeMutablePointer<UInt64>
    let stackTop: UInt64
    let memory: HostMemory

    /// The stack as a region, for helpers (which may be handed pointers into it).
    var stackRegion: MemoryRegion {
        MemoryRegion(start: stackTop - UInt64(layout.stackBytes), count: layout.stackBytes, writable: true, kind: .stack)
    }

    /// Calls a helper with r1–r5 and returns its result for r0.
    ///
    /// r1–r5 are left as they were, as the kernel's interpreter leaves them
    /// (`BPF_R0 = helper(BPF_R1, ..., BPF_R5)`); a verified program treats
    /// them as clobbered anyway. `access` is built on the first call of a run
    /// and reused, so helper-heavy programs do not rebuild the region list.
    @inline(never)
    func callHelper(_ helper: Helper, access: inout MemoryAccess?, pc: Int) throws(ExecutionError) -> UInt64 {
        let memoryAccess: MemoryAccess
        if let access {
            memoryAccess = access
        } else {
            var regions = memory.regions
            regions.regions.append(stackRegion)
            memoryAccess = MemoryAccess(regions: regions)
            access = memoryAccess
        }
        let r = registers
        let call = HelperCall(helperID: helper.id, arguments: (r[1], r[2], r[3], r[4], r[5]), memory: memoryAccess)
        do {
            return try helper.body(call)
        } catch {
            throw .helperFailed(pc: pc, id: helper.id, message: error.message)
        }
    }

    /// Resolves `callx`: the register holds a helper number. A value that is
    /// no 32-bit number at all is reported as such rather than truncated,
    /// since truncation could name a helper that does exist.
    @inline(never)
    func helper(numbered value: UInt64, pc: Int) throws(ExecutionError) -> Helper {
        guard let id = Int32(exactly: Int64(bitPattern: value)) else {
            throw .unsupported(pc: pc, what: "a call through a register holding 0x\(String(value, radix: 16)), which is no helper number,")
        }
        guard let helper = program.registry[id] else { throw .unknownHelper(pc: pc, id: id) }
        return helper
    }
}
