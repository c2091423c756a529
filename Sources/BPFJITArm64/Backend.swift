import BPFISA
import BPFJIT
import BPFRuntime

/// How the arm64 backend implements BPF's atomic instructions.
public enum Arm64Atomics: String, Sendable, Hashable, CaseIterable {
    /// ARMv8.1 LSE: one LDADDAL/LDCLRAL/LDSETAL/LDEORAL/SWPAL/CASAL each.
    case lse
    /// ARMv8.0: a load-exclusive/store-exclusive loop (LDXR … STLXR, CBNZ, DMB ISH).
    case exclusive
}

/// Options of the arm64 backend: the shared ones and the atomics form.
public struct Arm64Options: Sendable, Hashable {
    public var memoryChecking: MemoryChecking
    public var atomics: Arm64Atomics

    public init(memoryChecking: MemoryChecking = .checked, atomics: Arm64Atomics = .lse) {
        self.memoryChecking = memoryChecking
        self.atomics = atomics
    }
}

/// Where the arm64 code calls out of the image.
///
/// Natively (an arm64 host) every helper goes through the C-ABI routine
/// `JITHostRoutines.callHelper`, which finds the helper from the call site
/// word stored in the run context, exactly as the x86-64 backend does.
/// Under the emulator each helper has an address of its own (its trampoline
/// slot, `EmulatedMachine.helperAddress(for:)`), where the emulator's hook
/// calls the Swift helper and returns: arguments in x0–x4, result in x0.
public struct Arm64CallTargets: Sendable {
    public enum Helpers: Sendable {
        /// One routine for all helpers: `(r1, …, r5, context) -> r0`, the
        /// helper named by `context.site` (slot and pc).
        case hostRoutine(UInt64)
        /// An address per helper number; `callx` looks the number up in a
        /// table of them built into the image.
        case perHelper([Int32: UInt64])
    }

    public var helpers: Helpers
    /// The slow bounds check: `(context, address, access info) -> 0` when the
    /// access is allowed; otherwise it records the error and returns nonzero.
    public var checkAccess: UInt64

    public init(helpers: Helpers, checkAccess: UInt64) {
        self.helpers = helpers
        self.checkAccess = checkAccess
    }

    /// The host routines of this process (native runs on an arm64 host).
    public static var hostRoutines: Arm64CallTargets {
        Arm64CallTargets(helpers: .hostRoutine(UInt64(JITHostRoutines.callHelperAddress)),
                         checkAccess: UInt64(JITHostRoutines.checkAccessAddress))
    }
}

/// Status kinds this backend stops with besides `JITStatus`'s.
public enum Arm64Status {
    /// `callx` named a number the image's helper table lacks; the number is
    /// in `context.dynamicHelper` (emulated runs, where helpers have addresses).
    public static let dynamicHelperMissing: UInt32 = 0x10
}

/// The arm64 backend: lowers BPF instructions to AArch64 for the shared pass
/// driver. Register map in `Arm64RegisterMap`, frame in `Arm64Frame`.
///
/// Calls into the host follow seed 000: while the image address is unknown
/// every call is sized in its indirect form (move-wide into x16, `blr x16`);
/// once the address is known each call becomes a direct `bl` when its target
/// lies within ±128 MiB of that very instruction. AArch64 instructions are
/// one word each, so no other sequence changes size with the address.
public struct Arm64Backend: JITBackend {
    public typealias Branch = Arm64Branch
    public static let architecture = JITArchitecture.arm64

    /// Bytes of one BPF stack frame.
    static let frameBytes = ExecutionLimits.stackSizePerFrame

    let program: Program
    let options: Arm64Options
    let helpers: JITHelperTable
    let targets: Arm64CallTargets
    let layout = JITRunContext.layout
    let frame: Arm64Frame
    /// Whether any code touches the run context (x26 and the registers loaded from it).
    let usesContext: Bool
    /// Whether the entry function is also a local-call target (recursion into it).
    let entryIsCallTarget: Bool
    let functionOfEntry: [Int: Int]
    /// Registers the entry prologue clears: r0 and those of r3–r9 the program names.
    let zeroedRegisters: [Arm64Register]
    /// Whether any access is checked at run time (then the check routine is emitted).
    let hasCheckedAccesses: Bool
    /// What a verifier proved about this program (`JITProofs.none` without proofs).
    let proofs: JITProofs
    /// Whether `callx` needs the helper table and its walk (per-helper targets only).
    let hasDispatchTable: Bool
    /// Per helper-call site: which of r1–r5 are read before being written
    /// again, so that only those are kept across the call.
    let liveAcrossCalls: [Int: UInt8]

    /// The program arrays of `bpf_tail_call`; nil when `call 12` is a plain helper call.
    let tailCalls: JITTailCallPlan?
    /// The address of the program's `JITProgramInfo`, which the entry
    /// prologue stores in the run context (0: store nothing).
    public var programInfo: UInt64 = 0

    public internal(set) var statistics = JITStatistics()
    /// Size of the image each pass produced, in order: the driver's passes
    /// as this backend saw them (seed 000's assertion reads the last two).
    public private(set) var passSizes: [Int] = []

    // Per-pass state.
    var stubs: [Stub] = []
    var raiseLabel = Label(id: 0)
    var errorExitLabel = Label(id: 0)
    var checkRoutineLabel = Label(id: 0)
    var dispatchLabel = Label(id: 0)
    var dispatchTableLabel = Label(id: 0)
    var entryInnerLabel = Label(id: 0)
    var entryReturnLabel = Label(id: 0)

    /// Out-of-line code placed after the body.
    enum Stub {
        /// `mov w10, status; b raise`.
        case raise(Label, status: UInt32)
        /// `mov x9, address; mov w10, info; bl checkRoutine; b resume`.
        case check(Label, info: UInt32, resume: Label, address: Arm64Register)
    }

    public init(program: Program, helpers: JITHelperTable, options: Arm64Options = Arm64Options(),
                targets: Arm64CallTargets, tailCalls: JITTailCallPlan? = nil, proofs: JITProofs = .none) throws(JITError) {
        guard program.count <= JITStatus.maxPC else { throw .tooLarge("more than \(JITStatus.maxPC) instruction slots") }
        self.program = program
        self.options = options
        self.proofs = proofs
        self.helpers = helpers
        self.targets = targets
        self.tailCalls = tailCalls
        let entries = program.jitFunctionEntries
        var functions: [(entry: Int, end: Int)] = []
        var functionOfEntry: [Int: Int] = [:]
        for (k, entry) in entries.enumerated() {
            functions.append((entry, k + 1 < entries.count ? entries[k + 1] : program.count))
            functionOfEntry[entry] = k
        }
        self.functionOfEntry = functionOfEntry

        var context = false, entryCalled = false, checks = false, dynamic = false, guarded = false
        var stack = JITStackUse()
        let checked = options.memoryChecking == .checked
        let hostRoutine: Bool = if case .hostRoutine = targets.helpers { true } else { false }
        var mentioned: UInt16 = 0   // bit per register any instruction names
        for (pc, instruction) in program.instructions.enumerated() {
            let names = instruction.namedRegisters
            mentioned |= names
            stack.note(instruction, at: pc, names: names, proofs: proofs)
            switch instruction {
            case .call(.local):
                context = true                                     // the depth check reads the context
                if !proofs.unguarded { guarded = true }
                if instruction.target(at: pc) == 0 { entryCalled = true }
            case .call(.helper):
                // Every helper call uses the context: the prologue records the
                // BPF stack's bounds there, and they are all of the machine
                // stack a helper may touch (natively the host routine reads
                // them; under the emulator `EmulatedJITRun`).
                context = true
            case .call(.register):
                context = true
                if !hostRoutine { dynamic = true }
            case .call(.kfunc):
                context = true
            case .jump, .jumpLong, .branch:
                // Backward: charged to the runaway guard, unless proven to end in time.
                if let target = instruction.target(at: pc), target <= pc, !proofs.unguarded { context = true; guarded = true }
            case .loadImmediate64(_, let kind) where kind.sourceField != 0:
                context = true
            case .load, .loadSignExtend, .store, .storeImmediate, .atomic:
                if checked, JITStackSizing.needsCheck(instruction), !proofs.provesSafe(instruction, at: pc) {
                    context = true; checks = true
                }
            default: break
            }
        }
        usesContext = context
        entryIsCallTarget = entryCalled
        hasCheckedAccesses = checks
        hasDispatchTable = dynamic
        // Proven to write every register before reading it: nothing to clear.
        let cleared: UInt16 = proofs.registersInitialized ? 0 : mentioned | 1
        var zeroed: [Arm64Register] = []
        for register in [Register.r0, .r3, .r4, .r5, .r6, .r7, .r8, .r9] where cleared & (1 << register.rawValue) != 0 {
            zeroed.append(Arm64RegisterMap.native(register))
        }
        zeroedRegisters = zeroed
        // See `JITStackSizing` (the stack clear works in pairs of words, 64 bytes a turn).
        let stackSize = stack.stackSize(proofs: proofs, granule: 64)
        frame = Arm64Frame(program, functions: functions, stackSize: stackSize,
                           pinned: Arm64Frame.Pinned(context: context, budget: guarded, inputStart: checks), cleared: cleared)
        liveAcrossCalls = ArgumentLiveness.liveAcrossCalls(program, functions: functions,
                                                            registersInitialized: proofs.registersInitialized)
        statistics.usesRunContext = context
    }

    /// BPF stack bytes the image reserves.
    public var stackSize: Int { frame.stackSize }

    /// An access `[r10 + offset]` of `size` bytes lies in the current frame
    /// whatever the call depth: it needs no check. Frames are 16-byte
    /// aligned, so an atomic there is aligned when its offset is.
    static func provablyInFrame(base: Register, offset: Int16, size: Int, atomic: Bool = false) -> Bool {
        JITStackSizing.inFrame(base: base, offset: offset, size: size, atomic: atomic)
    }

    public static func emitPadding(_ count: Int, into code: CodeBuffer) {
        guard count % 4 == 0 else {
            code.poison("\(count) bytes of padding is no whole number of AArch64 instructions")
            return
        }
        for _ in 0..<count / 4 { code.uint32(0xd503_201f) }   /* nop */
    }

    public mutating func beginPass(_ asm: JITAssembler<Arm64Branch>) {
        stubs.removeAll(keepingCapacity: true)
        let keep = statistics.usesRunContext
        statistics = JITStatistics()
        statistics.usesRunContext = keep
        raiseLabel = asm.makeLabel()
        errorExitLabel = asm.makeLabel()
        checkRoutineLabel = asm.makeLabel()
        dispatchLabel = asm.makeLabel()
        dispatchTableLabel = asm.makeLabel()
        entryInnerLabel = asm.makeLabel()
        entryReturnLabel = asm.makeLabel()
    }

    public mutating func emitPrologue(_ function: JITFunctionInfo, _ asm: JITAssembler<Arm64Branch>) {
        let e = Arm64Encoder(asm)
        guard function.isEntry else {
            emitFunctionPrologue(function.index, e)
            return
        }
        emitEntryPrologue(e)
        if entryIsCallTarget {
            e.bl(entryInnerLabel)                           /* bl entry function as a callee */
            asm.bind(entryReturnLabel)
            emitEntryEpilogue(e)
            asm.bind(entryInnerLabel)
            emitFunctionPrologue(0, e)
        }
    }

    public mutating func emitEpilogue(_ function: JITFunctionInfo, _ asm: JITAssembler<Arm64Branch>) {
        let e = Arm64Encoder(asm)
        if function.isEntry && !entryIsCallTarget {
            emitEntryEpilogue(e)
        } else {
            emitFunctionEpilogue(function.index, e)
        }
    }

    public mutating func lower(_ instruction: Instruction, at pc: Int, in function: JITFunctionInfo,
                               _ asm: JITAssembler<Arm64Branch>) throws(JITError) {
        let e = Arm64Encoder(asm)
        switch instruction {
        case .alu(let width, let operation, let dst, let operand):
            lowerALU(width, operation, dst: dst, operand, e)
        case .neg(let width, let dst):
            let d = Arm64RegisterMap.native(dst)
            e.neg(Arm64Size(width), d, d)                   /* neg dst, dst */
        case .movsx(let width, let dst, let src, let bits):
            e.signExtend(Arm64Size(width), Arm64RegisterMap.native(dst), Arm64RegisterMap.native(src),
                         bits: UInt32(bits))                /* sxtb/sxth/sxtw dst, src */
        case .byteSwap(let kind, let dst, let bits):
            lowerByteSwap(kind, dst: dst, bits: bits, e)
        case .jump(let offset):
            lowerJump(to: pc + 1 + Int(offset), at: pc, e)
        case .jumpLong(let offset):
            lowerJump(to: pc + 1 + Int(offset), at: pc, e)
        case .branch(let width, let condition, let dst, let operand, let offset):
            lowerBranch(width, condition, dst: dst, operand, to: pc + 1 + Int(offset), at: pc, e)
        case .call(.helper(TailCalls.helperID)) where tailCalls != nil:
            lowerTailCall(at: pc, in: function, e)
        case .call(let target):
            lowerCall(target, at: pc, e)
        case .exit:
            if pc + 1 != function.end { e.b(asm.epilogue(function.index)) } /* b epilogue */
        case .loadImmediate64(let dst, let value):
            if case .value(let constant) = value {
                loadConstant(Arm64RegisterMap.native(dst), constant, e)
            } else {
                stopUnsupported(at: pc, e)                  // the loader did not resolve it
            }
        case .immediate64Tail:
            break
        case .load(let size, let dst, let src, let offset):
            let m = checkedAddress(base: src, offset: offset, size: size.bytes, write: false, pc: pc, e)
            access(.load(.zeroExtend), size, Arm64RegisterMap.native(dst), m, e)
        case .loadSignExtend(let size, let dst, let src, let offset):
            let m = checkedAddress(base: src, offset: offset, size: size.bytes, write: false, pc: pc, e)
            access(.load(.signExtend), size, Arm64RegisterMap.native(dst), m, e)
        case .store(let size, let dst, let offset, let src):
            let m = checkedAddress(base: dst, offset: offset, size: size.bytes, write: true, pc: pc, e)
            access(.store, size, Arm64RegisterMap.native(src), m, e)
        case .storeImmediate(let size, let dst, let offset, let imm):
            let m = checkedAddress(base: dst, offset: offset, size: size.bytes, write: true, pc: pc, e)
            let value = storedImmediate(imm, e)
            access(.store, size, value, m, e)
        case .atomic(let width, let operation, let dst, let offset, let src):
            lowerAtomic(width, operation, dst: dst, offset: offset, src: src, pc: pc, e)
        }
    }

    public mutating func emitTrailer(_ asm: JITAssembler<Arm64Branch>) {
        let e = Arm64Encoder(asm)
        let scratch = Arm64RegisterMap.immediate
        for stub in stubs {
            switch stub {
            case .raise(let label, let status):
                asm.bind(label)
                loadConstant32(scratch, status, e)          /* mov w10, kind << 24 | pc */
                e.b(raiseLabel)                             /* b raise */
            case .check(let label, let info, let resume, let address):
                asm.bind(label)
                if address != Arm64RegisterMap.address {
                    e.mov(.x, Arm64RegisterMap.address, address) /* mov x9, address */
                }
                loadConstant32(scratch, info, e)            /* mov w10, pc << 8 | write << 4 | size */
                e.bl(checkRoutineLabel)                     /* bl check routine */
                e.b(resume)                                 /* b back to the access */
            }
        }
        if usesContext {
            let context = Arm64RegisterMap.context
            asm.bind(raiseLabel)
            e.str(.double, scratch, context, offset: Int(layout.status)) /* str x10, [x26, #status] */
            asm.bind(errorExitLabel)
            e.ldr(.double, scratch, context, offset: Int(layout.exitStack)) /* ldr x10, [x26, #exitStack] */
            e.movSP(.sp, scratch)                           /* mov sp, x10: unwind every frame */
            e.b(entryIsCallTarget ? entryReturnLabel : asm.epilogue(0)) /* b entry epilogue */
            if hasCheckedAccesses { emitCheckRoutine(e) }
            if hasDispatchTable { emitDispatch(e) }
        }
        passSizes.append(asm.code.count)
    }
}
