import BPFEmulator
import BPFISA
import BPFJIT
import BPFRuntime

/// Options of the arm32 backend.
public struct Arm32Options: Sendable, Hashable {
    public var memoryChecking: MemoryChecking
    /// Whether the CPU has UDIV/SDIV (ARMv7-A with the virtualization
    /// extensions, e.g. Cortex-A7/A15, has them; Cortex-A8/A9 do not). Without
    /// them 32-bit division goes through a runtime call, as 64-bit division always does.
    public var hardwareDivide: Bool

    public init(memoryChecking: MemoryChecking = .checked, hardwareDivide: Bool = true) {
        self.memoryChecking = memoryChecking
        self.hardwareDivide = hardwareDivide
    }
}

/// Routines the code calls for what the core cannot do in a few
/// instructions: division and remainder (64-bit always, 32-bit without
/// UDIV/SDIV). Each takes the dividend in r0:r1 and the divisor in r2:r3 and
/// returns in r0:r1, with BPF's results for a zero divisor (quotient 0,
/// remainder the dividend) and for signed overflow.
public enum Arm32Routine: String, Sendable, CaseIterable {
    case udiv64, umod64, sdiv64, smod64, udiv32, umod32, sdiv32, smod32

    init(_ operation: ALUOperation, _ width: Width) {
        switch (operation, width) {
        case (.div, .w64): self = .udiv64
        case (.mod, .w64): self = .umod64
        case (.sdiv, .w64): self = .sdiv64
        case (.smod, .w64): self = .smod64
        case (.div, _): self = .udiv32
        case (.mod, _): self = .umod32
        case (.sdiv, _): self = .sdiv32
        default: self = .smod32
        }
    }

    /// BPF's result (RFC 9669 §4.1): x / 0 = 0, x % 0 = x, and signed
    /// overflow wraps (INT_MIN / -1 = INT_MIN, INT_MIN % -1 = 0).
    public func evaluate(_ a: UInt64, _ b: UInt64) -> UInt64 {
        switch self {
        case .udiv64: return b == 0 ? 0 : a / b
        case .umod64: return b == 0 ? a : a % b
        case .sdiv64:
            let x = Int64(bitPattern: a), y = Int64(bitPattern: b)
            return y == 0 ? 0 : UInt64(bitPattern: x.dividedReportingOverflow(by: y).partialValue)
        case .smod64:
            let x = Int64(bitPattern: a), y = Int64(bitPattern: b)
            return y == 0 ? a : UInt64(bitPattern: x.remainderReportingOverflow(dividingBy: y).partialValue)
        case .udiv32, .umod32, .sdiv32, .smod32:
            let x = UInt32(truncatingIfNeeded: a), y = UInt32(truncatingIfNeeded: b)
            let r: UInt32
            switch self {
            case .udiv32: r = y == 0 ? 0 : x / y
            case .umod32: r = y == 0 ? x : x % y
            case .sdiv32:
                r = y == 0 ? 0 : UInt32(bitPattern: Int32(bitPattern: x).dividedReportingOverflow(by: Int32(bitPattern: y)).partialValue)
            default:
                r = y == 0 ? x : UInt32(bitPattern: Int32(bitPattern: x).remainderReportingOverflow(dividingBy: Int32(bitPattern: y)).partialValue)
            }
            return UInt64(r)
        }
    }
}

/// Where the arm32 code calls out of the image: each helper's address (a
/// trampoline slot under the emulator), the slow bounds check and the
/// division routines.
public typealias Arm32CallTargets = JITCallTargets<Arm32Routine>

/// Status kinds this backend stops with besides `JITStatus`'s.
public enum Arm32Status {
    /// `callx` named a number no helper has; the number is in `context.dynamicHelper`.
    public static let dynamicHelperMissing: UInt32 = 0x10
}

/// The arm32 backend: lowers BPF to ARMv7-A A32 (little endian) for the
/// shared pass driver. Register map in `Arm32RegisterMap`, frame below.
///
/// ```
///            |  caller (host): 3rd argument, the run context, at [sp]    |
///            +-----------------------------------------------------------+ <- sp on entry (8-aligned)
///            |  r4–r12, lr of the host (40 bytes)                        |
///            +-----------------------------------------------------------+
///            |  ax [72] (blinding); run words: depth [64], exit sp [60], |
///            |  context [56]                                             |
///            |  BPF r9 [48], r5 [40] … r1 [8], r0 [0]                    |
///  r11  ---> +-----------------------------------------------------------+ <- r10 of frame 0
///            |  BPF frames 0–7, 512 bytes each (or what the program uses) |
///            +-----------------------------------------------------------+ <- context.stackBase
///            |  per function: caller's r6–r9 (r4–r9 and the r9 slot via  |
///            |  r2:r3), r12, lr (40 bytes); outgoing helper arguments    |
///            |  (24 bytes); the next local call's the same, and so on     |
/// ```
///
/// The entry prologue builds the slots and the stack and `bl`s function 0
/// like any local call; the code after that `bl` is the one exit: it
/// returns BPF r0 in r0:r1 and restores sp from r11, so an error anywhere
/// unwinds in one step. BPF frames live in one block carved out at entry:
/// the BPF stack holds no return address or saved register a bad program
/// could overwrite. A local call moves r10 down by 512.
///
/// Calls into the host follow the arm64 scheme: sized as `movw/movt r12;
/// blx r12` while the image address is unknown, then each call site becomes
/// a `bl` where its target lies within ±32 MiB of it.
public struct Arm32Backend: JITBackend {
    public typealias Branch = Arm32Branch
    public static let architecture = JITArchitecture.arm32

    let program: Program
    let options: Arm32Options
    let helpers: JITHelperTable
    let targets: Arm32CallTargets
    let layout = JITRunContext.layout
    let proofs: JITProofs
    /// BPF stack bytes reserved (all frames).
    public let stackSize: Int
    /// Per slot: whether its access keeps a run-time check.
    let checked: Set<Int>
    /// Function index by entry slot.
    let functionIndex: [Int: Int]
    /// The program arrays of `bpf_tail_call`; nil when `call 12` is a plain helper call.
    let tailCalls: JITTailCallPlan?
    /// Position of each array's table word (`Arm32TailCalls.tableWords`), by handle.
    let tableIndex: [UInt64: Int]
    /// The address of the program's `JITProgramInfo`, which the entry
    /// prologue stores in the run context when tail calls may leave it (0: none).
    public var programInfo: UInt64 = 0

    public internal(set) var statistics = JITStatistics()
    public private(set) var passSizes: [Int] = []

    var raiseLabel = Label(id: 0)
    var errorExitLabel = Label(id: 0)
    var entryInnerLabel = Label(id: 0)

    static let outgoingBytes = 24
    static let functionSaves: [Arm32Register] = [.r2, .r3, .r4, .r5, .r6, .r7, .r8, .r9, .r12, .lr]
    static let entrySaves: [Arm32Register] = [.r4, .r5, .r6, .r7, .r8, .r9, .r10, .r11, .r12, .lr]

    public init(program: Program, helpers: JITHelperTable, options: Arm32Options = Arm32Options(),
                targets: Arm32CallTargets, tailCalls: JITTailCallPlan? = nil, tableIndex: [UInt64: Int] = [:],
                proofs: JITProofs = .none) throws(JITError) {
        let plan = try JITProgramLayout(program, memoryChecking: options.memoryChecking, proofs: proofs, granule: 16)
        self.program = program
        self.options = options
        self.helpers = helpers
        self.targets = targets
        self.proofs = proofs
        self.tailCalls = tailCalls
        self.tableIndex = tableIndex
        checked = plan.checked
        functionIndex = plan.functionIndex
        stackSize = plan.stackSize
    }

    public static func emitPadding(_ count: Int, into code: CodeBuffer) {
        guard count % 4 == 0 else {
            code.poison("\(count) bytes of padding is no whole number of A32 instructions")
            return
        }
        for _ in 0..<count / 4 { code.uint32(0xe320_f000) }   /* nop */
    }

    public mutating func beginPass(_ asm: JITAssembler<Arm32Branch>) {
        statistics = JITStatistics()
        statistics.usesRunContext = true
        raiseLabel = asm.makeLabel()
        errorExitLabel = asm.makeLabel()
        entryInnerLabel = asm.makeLabel()
    }

    // MARK: Prologues and epilogues

    public mutating func emitPrologue(_ function: JITFunctionInfo, _ asm: JITAssembler<Arm32Branch>) {
        let e = Arm32Encoder(asm)
        if function.isEntry { emitEntry(e) }
        e.access(.ldrd, .r2, Arm32RegisterMap.slots, offset: Arm32RegisterMap.slot(.r9)) /* ldrd r2, r3, [r11, #r9] */
        e.push(Self.functionSaves)                          /* push {r2-r9, r12, lr} */
        e.dp(.sub, .sp, .sp, .immediate(Arm32Immediate(UInt32(Self.outgoingBytes))!)) /* sub sp, sp, #24 */
    }

    /// The run's setup, the call of function 0, and the one exit.
    mutating func emitEntry(_ e: Arm32Encoder) {
        let slots = Arm32RegisterMap.slots, fp = Arm32RegisterMap.framePointer
        e.push(Self.entrySaves)                             /* push {r4-r12, lr} */
        e.dp(.sub, .sp, .sp, .immediate(Arm32Immediate(UInt32(Arm32RegisterMap.slotBytes))!)) /* sub sp, sp, #80 */
        e.mov(slots, .sp)                                   /* mov r11, sp */
        e.access(.strd, .r0, slots, offset: Arm32RegisterMap.slot(.r1)) /* strd r0, r1, [r11, #8]: BPF r1 */
        e.access(.strd, .r2, slots, offset: Arm32RegisterMap.slot(.r2)) /* strd r2, r3, [r11, #16]: BPF r2 */
        e.access(.ldr, .r12, slots, offset: Arm32RegisterMap.slotBytes + 40) /* ldr r12, [r11, #120]: the run context */
        e.access(.str, .r12, slots, offset: Arm32RegisterMap.contextSlot)    /* str r12, [r11, #56] */
        e.load(.r0, 0)                                      /* mov r0, #0 */
        e.load(.r1, 0)                                      /* mov r1, #0 */
        // Proven to write every register before reading it: nothing to clear.
        if !proofs.registersInitialized {
            for register in [Register.r0, .r3, .r4, .r5, .r9] {
                e.access(.strd, .r0, slots, offset: Arm32RegisterMap.slot(register)) /* strd r0, r1, [r11, #slot] */
            }
            for register in [Arm32Register.r4, .r5, .r6, .r7, .r8, .r9] { e.mov(register, .register(.r0)) } /* r6–r8 = 0 */
        }
        e.access(.str, .r0, slots, offset: Arm32RegisterMap.depthSlot) /* str r0, [r11, #64]: depth 0 */
        e.mov(fp, .sp)                                      /* mov r10, sp: top of frame 0 */
        if stackSize > 0 {
            e.addConstant(.sp, .sp, -Int32(stackSize), scratch: .r12) /* sub sp, sp, #stack */
        }
        // Proven never to read a stack byte it did not write: no clearing.
        if stackSize > 0 && !proofs.stackReadsInitialized {
            statistics.clearedStackBytes = stackSize
            e.mov(.r12, .sp)                                /* mov r12, sp */
            let loop = e.asm.makeLabel()
            e.asm.bind(loop)
            e.access(.strd, .r0, .r12, offset: 0)           /* strd r0, r1, [r12] */
            e.dp(.add, .r12, .r12, .immediate(Arm32Immediate(8)!)) /* add r12, r12, #8 */
            e.cmp(.r12, .register(fp))                      /* cmp r12, r10 */
            e.b(loop, cond: .lo)                            /* blo loop */
        }
        e.access(.ldr, .lr, slots, offset: Arm32RegisterMap.contextSlot) /* ldr lr, [r11, #56] */
        e.mov(.r12, .sp)                                    /* mov r12, sp */
        e.access(.str, .r12, .lr, offset: Int(layout.stackBase)) /* str r12, [lr, #stackBase] */
        e.access(.str, fp, .lr, offset: Int(layout.stackEnd))    /* str r10, [lr, #stackEnd] */
        e.access(.str, .r12, slots, offset: Arm32RegisterMap.exitStackSlot) /* str r12, [r11, #60] */
        if tailCalls != nil && programInfo != 0 {
            e.loadFixed(.r2, UInt32(truncatingIfNeeded: programInfo))   /* r2 = info low */
            e.loadFixed(.r3, UInt32(truncatingIfNeeded: programInfo >> 32)) /* r3 = info high */
            e.access(.str, .r2, .lr, offset: Int(layout.program))       /* str r2, [lr, #program] */
            e.access(.str, .r3, .lr, offset: Int(layout.program) + 4)   /* str r3, [lr, #program + 4] */
        }
        e.bl(entryInnerLabel)                               /* bl function 0 */
        e.asm.bind(errorExitLabel)
        e.access(.ldrd, .r0, slots, offset: Arm32RegisterMap.slot(.r0)) /* ldrd r0, r1, [r11]: BPF r0 */
        e.dp(.add, .sp, slots, .immediate(Arm32Immediate(UInt32(Arm32RegisterMap.slotBytes))!)) /* add sp, r11, #80 */
        e.pop(Self.entrySaves)                              /* pop {r4-r12, lr} */
        e.bx(.lr)                                           /* bx lr */
        e.asm.bind(entryInnerLabel)
    }

    public mutating func emitEpilogue(_ function: JITFunctionInfo, _ asm: JITAssembler<Arm32Branch>) {
        let e = Arm32Encoder(asm)
        e.dp(.add, .sp, .sp, .immediate(Arm32Immediate(UInt32(Self.outgoingBytes))!)) /* add sp, sp, #24 */
        e.pop(Self.functionSaves)                           /* pop {r2-r9, r12, lr} */
        e.access(.strd, .r2, Arm32RegisterMap.slots, offset: Arm32RegisterMap.slot(.r9)) /* strd r2, r3, [r11, #r9] */
        e.bx(.lr)                                           /* bx lr */
    }

    public mutating func emitTrailer(_ asm: JITAssembler<Arm32Branch>) {
        let e = Arm32Encoder(asm)
        asm.bind(raiseLabel)                                // r0 = status word
        e.access(.ldr, .r12, Arm32RegisterMap.slots, offset: Arm32RegisterMap.contextSlot) /* ldr r12, [r11, #56] */
        e.access(.str, .r0, .r12, offset: Int(layout.status)) /* str r0, [r12, #status] */
        e.b(errorExitLabel)                                 /* b exit */
        passSizes.append(asm.code.count)
    }

    /// Stops the run with `status` (kind and pc).
    func raise(_ kind: UInt32, pc: Int, _ e: Arm32Encoder, cond: Arm32Condition = .al) {
        if cond == .al {
            e.load(.r0, JITStatus.word(kind, pc: pc))       /* mov r0, #status */
            e.b(raiseLabel)                                 /* b raise */
        } else {
            let skip = e.asm.makeLabel()
            e.b(skip, cond: Self.inverse(cond))
            raise(kind, pc: pc, e)
            e.asm.bind(skip)
        }
    }

    static func inverse(_ cond: Arm32Condition) -> Arm32Condition {
        Arm32Condition(rawValue: cond.rawValue ^ 1)!
    }

    // MARK: Calls out of the image

    /// `bl target` when it reaches from here, else `movw/movt r12; blx r12`.
    mutating func callHost(_ target: UInt64, _ e: Arm32Encoder) {
        if let base = e.asm.imageAddress {
            let here = UInt64(base) + UInt64(e.asm.code.count)
            if Arm32Encoder.reaches(from: here, to: target) {
                e.bl(absolute: target, from: here)          /* bl target */
                statistics.directCalls += 1
                return
            }
        }
        e.loadFixed(.r12, UInt32(truncatingIfNeeded: target)) /* movw/movt r12, target */
        e.blx(.r12)                                         /* blx r12 */
        statistics.indirectCalls += 1
    }
}
