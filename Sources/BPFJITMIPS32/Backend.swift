import BPFEmulator
import BPFISA
import BPFJIT
import BPFRuntime

/// Options of the MIPS32 backend.
public struct MIPS32Options: Sendable, Hashable {
    public var memoryChecking: MemoryChecking
    /// Big-endian code and data (mips32be); little-endian otherwise (mips32le).
    public var bigEndian: Bool
    /// MIPS32 Release 6 (the emulator's mips32r6-generic) instead of Release 2:
    /// three-operand multiply and divide, selects for `movn`, R6 `ll`/`sc`
    /// and `jr`, and plain loads and stores for unaligned accesses, which
    /// Release 6 requires the hardware to perform.
    public var release6: Bool

    public init(memoryChecking: MemoryChecking = .checked, bigEndian: Bool = false, release6: Bool = false) {
        self.memoryChecking = memoryChecking
        self.bigEndian = bigEndian
        self.release6 = release6
    }
}

/// Routines the code calls for what a MIPS32 core cannot do in a few
/// instructions: 64-bit division and remainder. Each takes the dividend as
/// argument 1 (a0:a1) and the divisor as argument 2 (a2:a3) and returns in
/// v0:v1, with BPF's results for a zero divisor and for signed overflow.
/// 64-bit atomics take (address, operand, expected) and return the old value.
public enum MIPS32Routine: String, Sendable, CaseIterable {
    case udiv64, umod64, sdiv64, smod64
    case atomicAdd64, atomicOr64, atomicAnd64, atomicXor64, atomicXchg64, atomicCmpxchg64

    init(_ operation: ALUOperation) {
        switch operation {
        case .div: self = .udiv64
        case .mod: self = .umod64
        case .sdiv: self = .sdiv64
        default: self = .smod64
        }
    }

    init(_ operation: AtomicOperation) {
        switch operation {
        case .add: self = .atomicAdd64
        case .or: self = .atomicOr64
        case .and: self = .atomicAnd64
        case .xor: self = .atomicXor64
        case .xchg: self = .atomicXchg64
        case .cmpxchg: self = .atomicCmpxchg64
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
        default:
            return 0
        }
    }

    /// The new memory value of an atomic read-modify-write.
    public func combine(old: UInt64, operand: UInt64, expected: UInt64) -> UInt64 {
        switch self {
        case .atomicAdd64: old &+ operand
        case .atomicOr64: old | operand
        case .atomicAnd64: old & operand
        case .atomicXor64: old ^ operand
        case .atomicXchg64: operand
        case .atomicCmpxchg64: old == expected ? operand : old
        default: old
        }
    }
}

/// Where the MIPS32 code calls out of the image: each helper's address (a
/// trampoline slot under the emulator), the slow bounds check and the routines.
public typealias MIPS32CallTargets = JITCallTargets<MIPS32Routine>

/// Status kinds this backend stops with besides `JITStatus`'s.
public enum MIPS32Status {
    /// `callx` named a number no helper has; the number is in `context.dynamicHelper`.
    public static let dynamicHelperMissing: UInt32 = 0x10
}

/// The MIPS32 backend: lowers BPF to MIPS32 Release 2 for the shared pass
/// driver, little- or big-endian. Register map in `MIPS32RegisterMap`.
///
/// ```
///            |  caller (host): O32 home area, the run context at [sp+16]  |
///            +------------------------------------------------------------+ <- sp on entry (8-aligned)
///            |  ra [60], fp [56], gp [52], s7 … s0 [48 … 20], pad [16]    |
///            |  run words: tail calls [12], depth [8], exit sp [4],       |
///            |  context [0]                                               |
///   gp  ---> +------------------------------------------------------------+ <- r10 (fp) of frame 0
///            |  BPF frames, 512 bytes each (or what the program uses)     |
///            +------------------------------------------------------------+ <- context.stackBase
///            |  per function (128 bytes): s7 … s0 [120 … 92], ra [88],    |
///            |  r0–r5 saved around host calls [40 … 84],                  |
///            |  outgoing O32 arguments [0 … 40) (home area + 24 bytes)     |
///            |  then the next local call's the same, and so on            |
/// ```
///
/// The entry prologue builds the run words and the stack and `bal`s
/// function 0 like any local call; the code after that `bal` is the one
/// exit: BPF r0 is already the O32 result pair v0:v1, and sp is restored
/// from gp, so an error anywhere unwinds in one step. BPF frames live in one
/// block carved out at entry: the BPF stack holds no return address or
/// saved register a bad program could overwrite. A local call moves fp down 512.
///
/// Delay slots: every branch, jump and call is followed by a `nop`; nothing
/// is ever scheduled into a slot. Long branches: each branch site is sized
/// short (`beq`/`bne`/`bal` and its nop) while the driver's estimate fits
/// ±128 KiB, else it becomes the inverse branch over a PC-relative long
/// jump (`MIPS32Branch.long32`). Host calls load the callee's address into
/// t9 and `jalr t9`, as O32 position-independent code expects.
public struct MIPS32Backend: JITBackend {
    public typealias Branch = MIPS32Branch
    public static let architecture = JITArchitecture.mips32le

    let program: Program
    let options: MIPS32Options
    let helpers: JITHelperTable
    let targets: MIPS32CallTargets
    let layout = JITRunContext.layout
    let proofs: JITProofs
    let bigEndian: Bool
    /// BPF stack bytes reserved (all frames).
    public let stackSize: Int
    /// Per slot: whether its access keeps a run-time check.
    let checked: Set<Int>
    /// Function index by entry slot.
    let functionIndex: [Int: Int]
    /// The program arrays of `bpf_tail_call`; nil when `call 12` is a plain helper call.
    let tailCalls: JITTailCallPlan?
    /// Position of each array's table word (`MIPS32TailCalls.tableWords`), by handle.
    let tableIndex: [UInt64: Int]
    /// The address of the program's `JITProgramInfo`, which the entry
    /// prologue stores in the run context when tail calls may leave it (0: none).
    public var programInfo: UInt64 = 0

    public internal(set) var statistics = JITStatistics()
    public private(set) var passSizes: [Int] = []

    var raiseLabel = Label(id: 0)
    var errorExitLabel = Label(id: 0)
    var entryInnerLabel = Label(id: 0)

    static let entryFrame = 64
    static let functionFrame = 128
    static let spillOffset = 40
    static let raOffset = 88
    static let savedOffset = 92
    static let calleeSaved: [MIPS32Register] = [.s0, .s1, .s2, .s3, .s4, .s5, .s6, .s7]
    /// Where ax (t8:t9) waits during a store's bounds-check call: outgoing
    /// argument words 7 and 8, past the check's three arguments.
    static let auxiliaryOffset = 24
    /// Whether the program uses ax (a blinded program): checked stores then
    /// keep it across their host call.
    let preservesAuxiliary: Bool

    public init(program: Program, helpers: JITHelperTable, options: MIPS32Options = MIPS32Options(),
                targets: MIPS32CallTargets, tailCalls: JITTailCallPlan? = nil, tableIndex: [UInt64: Int] = [:],
                proofs: JITProofs = .none) throws(JITError) {
        let plan = try JITProgramLayout(program, memoryChecking: options.memoryChecking, proofs: proofs, granule: 16)
        self.tailCalls = tailCalls
        self.tableIndex = tableIndex
        self.program = program
        self.options = options
        self.helpers = helpers
        self.targets = targets
        self.proofs = proofs
        self.bigEndian = options.bigEndian
        self.preservesAuxiliary = program.usesAuxiliaryRegister
        checked = plan.checked
        functionIndex = plan.functionIndex
        stackSize = plan.stackSize
    }

    public static func emitPadding(_ count: Int, into code: CodeBuffer) {
        guard count % 4 == 0 else {
            code.poison("\(count) bytes of padding is no whole number of MIPS instructions")
            return
        }
        for _ in 0..<count / 4 { code.uint32(0) }   /* nop (all-zero in either byte order) */
    }

    func encoder(_ asm: JITAssembler<MIPS32Branch>) -> MIPS32Encoder {
        MIPS32Encoder(asm, bigEndian: bigEndian, release6: options.release6)
    }

    /// The pair of a BPF register.
    func pair(_ register: Register) -> MIPS32Pair { MIPS32RegisterMap.pair(register, bigEndian: bigEndian) }

    public mutating func beginPass(_ asm: JITAssembler<MIPS32Branch>) {
        statistics = JITStatistics()
        statistics.usesRunContext = true
        raiseLabel = asm.makeLabel()
        errorExitLabel = asm.makeLabel()
        entryInnerLabel = asm.makeLabel()
    }

    // MARK: Prologues and epilogues

    public mutating func emitPrologue(_ function: JITFunctionInfo, _ asm: JITAssembler<MIPS32Branch>) {
        let e = encoder(asm)
        if function.isEntry { emitEntry(e) }
        e.addiu(.sp, .sp, -Int16(Self.functionFrame))      /* addiu sp, sp, -128 */
        e.sw(.ra, Int16(Self.raOffset), .sp)                /* sw ra, 88(sp) */
        for (k, register) in Self.calleeSaved.enumerated() {
            e.sw(register, Int16(Self.savedOffset + 4 * k), .sp) /* sw s<k>, 92+4k(sp) */
        }
    }

    /// The run's setup, the call of function 0, and the one exit.
    mutating func emitEntry(_ e: MIPS32Encoder) {
        let words = MIPS32RegisterMap.runWords
        e.addiu(.sp, .sp, -Int16(Self.entryFrame))          /* addiu sp, sp, -64 */
        e.sw(.ra, 60, .sp)                                  /* sw ra, 60(sp) */
        e.sw(.fp, 56, .sp)                                  /* sw fp, 56(sp) */
        e.sw(.gp, 52, .sp)                                  /* sw gp, 52(sp) */
        for (k, register) in Self.calleeSaved.enumerated() { e.sw(register, Int16(20 + 4 * k), .sp) } /* sw s<k>, 20+4k(sp) */
        e.move(words, .sp)                                  /* move gp, sp */
        // The third argument, a 64-bit slot at the caller's sp+16: its low word.
        e.lw(.t6, Int16(Self.entryFrame + 16 + (bigEndian ? 4 : 0)), .sp) /* lw t6, 80(sp): the run context */
        e.sw(.t6, Int16(MIPS32RegisterMap.contextWord), words) /* sw t6, 0(gp) */
        e.sw(.zero, Int16(MIPS32RegisterMap.depthWord), words) /* sw zero, 8(gp) */
        e.sw(.zero, Int16(MIPS32RegisterMap.tailCallWord), words) /* sw zero, 12(gp) */
        // Registers and stack start zeroed, unless the verifier proved that
        // nothing is read before it is written.
        if !proofs.registersInitialized {
            for register in [Register.r0, .r3, .r4, .r5, .r6, .r7, .r8, .r9] {
                let p = pair(register)
                e.move(p.lo, .zero)                         /* move lo, zero */
                e.move(p.hi, .zero)                         /* move hi, zero */
            }
        }
        e.move(.fp, .sp)                                    /* move fp, sp: top of frame 0 */
        if stackSize > 0 && proofs.stackReadsInitialized {
            e.addConstant(.sp, .sp, -Int32(stackSize), scratch: .t7) /* sp -= stack */
        } else if stackSize > 0 {
            statistics.clearedStackBytes = stackSize
            e.addConstant(.sp, .sp, -Int32(stackSize), scratch: .t7) /* sp -= stack */
            e.move(.t7, .sp)                                /* move t7, sp */
            let loop = e.asm.makeLabel()
            e.asm.bind(loop)
            e.sw(.zero, 0, .t7)                             /* sw zero, 0(t7) */
            e.sw(.zero, 4, .t7)                             /* sw zero, 4(t7) */
            e.addiu(.t7, .t7, 8)                            /* addiu t7, t7, 8 */
            e.branch(loop, eq: false, .t7, .fp)             /* bne t7, fp, loop */
        }
        storeHostWord(.sp, at: Int(layout.stackBase), context: .t6, e) /* context.stackBase = sp */
        storeHostWord(.fp, at: Int(layout.stackEnd), context: .t6, e)  /* context.stackEnd = fp */
        if tailCalls != nil && programInfo != 0 {
            // Which program runs now, for errors and checks after a tail call.
            e.loadFixed(.t7, UInt32(truncatingIfNeeded: programInfo))   /* t7 = info low */
            storeHostWord(.t7, at: Int(layout.program), context: .t6, e)
            e.loadFixed(.t7, UInt32(truncatingIfNeeded: programInfo >> 32)) /* t7 = info high */
            storeHostWord(.t7, at: Int(layout.program) + 4, context: .t6, e)
        }
        e.sw(.sp, Int16(MIPS32RegisterMap.exitStackWord), words) /* sw sp, 4(gp) */
        e.bal(entryInnerLabel)                              /* bal function 0 */
        e.asm.bind(errorExitLabel)
        e.move(.sp, words)                                  /* move sp, gp */
        for (k, register) in Self.calleeSaved.enumerated() { e.lw(register, Int16(20 + 4 * k), .sp) } /* lw s<k>, 20+4k(sp) */
        e.lw(.ra, 60, .sp)                                  /* lw ra, 60(sp) */
        e.lw(.fp, 56, .sp)                                  /* lw fp, 56(sp) */
        e.lw(.gp, 52, .sp)                                  /* lw gp, 52(sp) */
        e.addiu(.sp, .sp, Int16(Self.entryFrame))           /* addiu sp, sp, 64 */
        e.jr(.ra)                                           /* jr ra; nop */
        e.asm.bind(entryInnerLabel)
    }

    /// Stores a 32-bit value into a field of the run context, which is host
    /// memory read in the host's (little-endian) byte order: a big-endian
    /// target swaps the word's bytes first (WSBH, ROTR 16).
    func storeHostWord(_ value: MIPS32Register, at offset: Int, context: MIPS32Register, _ e: MIPS32Encoder) {
        var source = value
        if bigEndian {
            e.wsbh(.t8, value)                              /* wsbh t8, value */
            e.rotr(.t8, .t8, 16)                            /* rotr t8, t8, 16 */
            source = .t8
        }
        e.sw(source, Int16(offset), context)                /* sw value, offset(context) */
    }

    public mutating func emitEpilogue(_ function: JITFunctionInfo, _ asm: JITAssembler<MIPS32Branch>) {
        let e = encoder(asm)
        for (k, register) in Self.calleeSaved.enumerated() {
            e.lw(register, Int16(Self.savedOffset + 4 * k), .sp) /* lw s<k>, 92+4k(sp) */
        }
        e.lw(.ra, Int16(Self.raOffset), .sp)                /* lw ra, 88(sp) */
        e.addiu(.sp, .sp, Int16(Self.functionFrame))        /* addiu sp, sp, 128 */
        e.jr(.ra)                                           /* jr ra; nop */
    }

    public mutating func emitTrailer(_ asm: JITAssembler<MIPS32Branch>) {
        let e = encoder(asm)
        asm.bind(raiseLabel)                                // t6 = status word
        e.lw(.t7, Int16(MIPS32RegisterMap.contextWord), MIPS32RegisterMap.runWords) /* lw t7, 0(gp) */
        storeHostWord(.t6, at: Int(layout.status), context: .t7, e) /* context.status = t6 */
        e.b(errorExitLabel)                                 /* b exit */
        passSizes.append(asm.code.count)
    }

    /// Stops the run with `status` (kind and pc).
    func raise(_ kind: UInt32, pc: Int, _ e: MIPS32Encoder) {
        e.load(.t6, JITStatus.word(kind, pc: pc))           /* t6 = status */
        e.b(raiseLabel)                                     /* b raise */
    }

    // MARK: Calls out of the image

    /// `lui/ori t9, target; jalr t9; nop`.
    mutating func callHost(_ target: UInt64, _ e: MIPS32Encoder) {
        e.callAbsolute(UInt32(truncatingIfNeeded: target))
        statistics.indirectCalls += 1
    }

    /// Saves BPF r0–r5 (the registers a host call may destroy) in the frame.
    func saveCallerSaved(_ e: MIPS32Encoder) {
        for (k, register) in MIPS32RegisterMap.callerSavedHomes.enumerated() {
            e.sw(register, Int16(Self.spillOffset + 4 * k), .sp) /* sw reg, 40+4k(sp) */
        }
    }

    func restoreCallerSaved(_ e: MIPS32Encoder) {
        for (k, register) in MIPS32RegisterMap.callerSavedHomes.enumerated() {
            e.lw(register, Int16(Self.spillOffset + 4 * k), .sp) /* lw reg, 40+4k(sp) */
        }
    }

    /// Where `register`'s saved copy is after `saveCallerSaved`, if it is one of them.
    func spillSlot(_ register: MIPS32Register) -> Int16? {
        MIPS32RegisterMap.callerSavedHomes.firstIndex(of: register).map { Int16(Self.spillOffset + 4 * $0) }
    }

    /// Loads BPF `register`'s value as of `saveCallerSaved` into `target`.
    func readSaved(_ register: Register, into target: MIPS32Pair, _ e: MIPS32Encoder) {
        let p = pair(register)
        for (from, to) in [(p.lo, target.lo), (p.hi, target.hi)] {
            if let slot = spillSlot(from) { e.lw(to, slot, .sp) } else if from != to { e.move(to, from) }
        }
    }
}
