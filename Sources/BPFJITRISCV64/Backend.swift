import BPFISA
import BPFJIT
import BPFRuntime

/// Options of the RISC-V 64 backend.
public struct RV64Options: Sendable, Hashable {
    public var memoryChecking: MemoryChecking
    /// Emit the C extension's 16-bit forms where the operands allow (RV64GC).
    public var compressed: Bool
    /// Use Zba (address generation): `zext.w` (`add.uw rd, rs, zero`) for
    /// every zero extension of a 32-bit value, `sh3add` to index a program array.
    public var zba: Bool
    /// Use Zbb (basic bit manipulation): `sext.b`/`sext.h` for sign
    /// extensions (`movsx`), `zext.h` for `le16`, `rev8` for byte swaps.
    public var zbb: Bool

    public init(memoryChecking: MemoryChecking = .checked, compressed: Bool = false, zba: Bool = false, zbb: Bool = false) {
        self.memoryChecking = memoryChecking
        self.compressed = compressed
        self.zba = zba
        self.zbb = zbb
    }

    /// The extensions beyond RV64IMA that are on, as `--riscv-ext` names them (`c`, `zba`, `zbb`).
    public var extensionNames: [String] {
        (compressed ? ["c"] : []) + (zba ? ["zba"] : []) + (zbb ? ["zbb"] : [])
    }

    /// Options with the extensions a `--riscv-ext` list names (`c`, `zba`,
    /// `zbb`, comma-separated, any case; `none` or an empty list for none);
    /// nil and the first unknown name when one is not an extension.
    public static func parsingExtensions(_ list: String, memoryChecking: MemoryChecking = .checked) -> (options: RV64Options?, unknown: String?) {
        var options = RV64Options(memoryChecking: memoryChecking)
        for raw in list.split(separator: ",") {
            let name = String(raw.filter { !$0.isWhitespace }).lowercased()
            switch name {
            case "c", "rvc": options.compressed = true
            case "zba": options.zba = true
            case "zbb": options.zbb = true
            case "none", "": break
            default: return (nil, name)
            }
        }
        return (options, nil)
    }
}

/// Where the RISC-V code calls out of the image: each helper's address (its
/// trampoline slot under the emulator) and the slow bounds check
/// `(context, address, info) -> 0 or nonzero`.
public struct RV64CallTargets: Sendable {
    public var helpers: [Int32: UInt64]
    public var checkAccess: UInt64

    public init(helpers: [Int32: UInt64], checkAccess: UInt64) {
        self.helpers = helpers
        self.checkAccess = checkAccess
    }
}

/// Status kinds this backend stops with besides `JITStatus`'s.
public enum RV64Status {
    /// `callx` named a number no helper has; the number is in `context.dynamicHelper`.
    public static let dynamicHelperMissing: UInt32 = 0x10
}

/// The RISC-V 64 backend: lowers BPF to RV64IMA (C optional) for the shared
/// pass driver. Register map in `RV64RegisterMap`.
///
/// ```
///            |  caller's frame (the host)                                 |
///            +------------------------------------------------------------+ <- sp on entry, 16-byte aligned
///            |  ra [72], s1 … s9 [64 … 0]: the host's values              |
///            +------------------------------------------------------------+ <- s5 = BPF r10 of frame 0
///            |  BPF frame 0: 512 bytes                                    |
///            |  BPF frames 1–7 (local calls, r10 escaping)                |
///            +------------------------------------------------------------+ <- s9 = context.stackBase
///                                                                           <- context.exitStack
///            |  function 0's frame (48): ra [40], s1–s4 [32 … 8]          |
///            |  around a helper call: the live r1–r5                      |
///            |  a local call's callee: the same 48 bytes, and so on       |
/// ```
///
/// The entry prologue saves the host's registers, carves out the BPF stack
/// (zeroed unless the verifier proved every read follows a write), fills
/// the run context's stack bounds and `jal`s function 0 like any local
/// call; the code after that `jal` is the one exit, so an error anywhere
/// unwinds in one step (sp = context.exitStack). The BPF stack holds no
/// return address or saved register a bad program could overwrite. A local
/// call moves s5 down 512 bytes and `jal`s the function, whose prologue
/// saves ra and s1–s4 (BPF's callee-saved r6–r9).
///
/// Branches: B-type (±4 KiB) while the estimate fits, else the inverted
/// branch over `jal zero` (±1 MiB). Calls out of the image: `jal ra` when
/// the target is within ±1 MiB of the call, `auipc t6 + jalr ra` within
/// ±2 GiB, else the address built in t6 and `jalr ra, t6`; while the image
/// address is unknown every call is sized in the longest form it can take.
/// Program-pack traps are `ebreak` (`c.ebreak` in compressed code).
public struct RV64Backend: JITBackend {
    public typealias Branch = RV64Branch
    public static let architecture = JITArchitecture.riscv64

    static let frameBytes = ExecutionLimits.stackSizePerFrame
    static let entryFrame: Int64 = 80
    static let functionFrame: Int64 = 48
    /// Saved by the entry prologue, from offset 64 down to 0, after ra at 72.
    static let entrySaved: [RV64Register] = [.s1, .s2, .s3, .s4, .s5, .s6, .s7, .s8, .s9]

    let program: Program
    let options: RV64Options
    let helpers: JITHelperTable
    let targets: RV64CallTargets
    let layout = JITRunContext.layout
    let proofs: JITProofs
    public let stackSize: Int
    let functionOfEntry: [Int: Int]
    let entryIsCallTarget: Bool
    let liveAcrossCalls: [Int: UInt8]
    let hasCheckedAccesses: Bool
    let hasDispatchTable: Bool
    let zeroedRegisters: [RV64Register]
    /// The program arrays of `bpf_tail_call`; nil when `call 12` is a plain helper call.
    let tailCalls: JITTailCallPlan?
    /// The address of the program's `JITProgramInfo`, which the entry
    /// prologue stores in the run context when tail calls may leave it (0: none).
    public var programInfo: UInt64 = 0

    public internal(set) var statistics = JITStatistics()
    public private(set) var passSizes: [Int] = []

    var stubs: [Stub] = []
    var raiseLabel = Label(id: 0)
    var errorExitLabel = Label(id: 0)
    var checkRoutineLabel = Label(id: 0)
    var dispatchLabel = Label(id: 0)
    var dispatchTableLabel = Label(id: 0)
    var entryInnerLabel = Label(id: 0)

    enum Stub {
        /// `li t2, status; j raise`.
        case raise(Label, status: UInt32)
        /// `mv t1, address; li t2, info; jal ra, checkRoutine; j resume`.
        case check(Label, info: UInt32, resume: Label, address: RV64Register)
    }

    public init(program: Program, helpers: JITHelperTable, options: RV64Options = RV64Options(),
                targets: RV64CallTargets, tailCalls: JITTailCallPlan? = nil, proofs: JITProofs = .none) throws(JITError) {
        guard program.count <= JITStatus.maxPC else { throw .tooLarge("more than \(JITStatus.maxPC) instruction slots") }
        self.program = program
        self.options = options
        self.helpers = helpers
        self.targets = targets
        self.tailCalls = tailCalls
        self.proofs = proofs
        let entries = program.jitFunctionEntries
        var functions: [(entry: Int, end: Int)] = []
        var functionOfEntry: [Int: Int] = [:]
        for (k, entry) in entries.enumerated() {
            functions.append((entry, k + 1 < entries.count ? entries[k + 1] : program.count))
            functionOfEntry[entry] = k
        }
        self.functionOfEntry = functionOfEntry
        var stack = JITStackUse()
        var checks = false, dynamic = false, entryCalled = false
        var mentioned: UInt16 = 0
        for (pc, instruction) in program.instructions.enumerated() {
            let names = instruction.namedRegisters
            mentioned |= names
            stack.note(instruction, at: pc, names: names, proofs: proofs)
            switch instruction {
            case .call(.local):
                if instruction.target(at: pc) == 0 { entryCalled = true }
            case .call(.register):
                dynamic = true
            case .load, .loadSignExtend, .store, .storeImmediate, .atomic:
                if options.memoryChecking == .checked, JITStackSizing.needsCheck(instruction), !proofs.provesSafe(instruction, at: pc) {
                    checks = true
                }
            default: break
            }
        }
        entryIsCallTarget = entryCalled
        hasCheckedAccesses = checks
        hasDispatchTable = dynamic
        let cleared: UInt16 = proofs.registersInitialized ? 0 : mentioned | 1
        zeroedRegisters = [Register.r0, .r3, .r4, .r5, .r6, .r7, .r8, .r9]
            .filter { cleared & (1 << $0.rawValue) != 0 }.map(RV64RegisterMap.native)
        stackSize = stack.stackSize(proofs: proofs, granule: 64)
        liveAcrossCalls = ArgumentLiveness.liveAcrossCalls(program, functions: functions,
                                                            registersInitialized: proofs.registersInitialized)
    }

    public static func emitPadding(_ count: Int, into code: CodeBuffer) {
        guard count % 2 == 0 else {
            code.poison("\(count) bytes of padding is no whole number of RISC-V instructions")
            return
        }
        var left = count
        while left >= 4 { code.uint32(0x0000_0013); left -= 4 }      /* nop */
        if left == 2 { code.bytes(0x01, 0x00) }                      /* c.nop */
    }

    func encoder(_ asm: JITAssembler<RV64Branch>) -> RV64Encoder {
        RV64Encoder(asm, compressed: options.compressed, zba: options.zba)
    }

    public mutating func beginPass(_ asm: JITAssembler<RV64Branch>) {
        stubs.removeAll(keepingCapacity: true)
        statistics = JITStatistics()
        statistics.usesRunContext = true
        raiseLabel = asm.makeLabel()
        errorExitLabel = asm.makeLabel()
        checkRoutineLabel = asm.makeLabel()
        dispatchLabel = asm.makeLabel()
        dispatchTableLabel = asm.makeLabel()
        entryInnerLabel = asm.makeLabel()
    }

    // MARK: Prologues and epilogues

    public mutating func emitPrologue(_ function: JITFunctionInfo, _ asm: JITAssembler<RV64Branch>) {
        let e = encoder(asm)
        if function.isEntry {
            emitEntry(e)
            asm.bind(entryInnerLabel)
        }
        e.addi(.sp, .sp, -Self.functionFrame)              /* addi sp, sp, -48 */
        e.sd(.ra, 40, .sp)                                  /* sd ra, 40(sp) */
        for (k, register) in RV64RegisterMap.calleeSaved.enumerated() {
            e.sd(register, Int64(32 - 8 * k), .sp)          /* sd s<k>, 32-8k(sp) */
        }
    }

    public mutating func emitEpilogue(_ function: JITFunctionInfo, _ asm: JITAssembler<RV64Branch>) {
        let e = encoder(asm)
        for (k, register) in RV64RegisterMap.calleeSaved.enumerated() {
            e.ld(register, Int64(32 - 8 * k), .sp)          /* ld s<k>, 32-8k(sp) */
        }
        e.ld(.ra, 40, .sp)                                  /* ld ra, 40(sp) */
        e.addi(.sp, .sp, Self.functionFrame)                /* addi sp, sp, 48 */
        e.ret()                                             /* ret */
    }

    /// The run's setup, the call of function 0, and the one exit.
    mutating func emitEntry(_ e: RV64Encoder) {
        let context = RV64RegisterMap.context, r10 = RV64RegisterMap.native(.r10)
        e.addi(.sp, .sp, -Self.entryFrame)                  /* addi sp, sp, -80 */
        e.sd(.ra, 72, .sp)                                  /* sd ra, 72(sp) */
        for (k, register) in Self.entrySaved.enumerated() { e.sd(register, Int64(64 - 8 * k), .sp) } /* sd s<k> */
        e.mv(context, .a2)                                  /* mv s6, a2: the run context (3rd argument) */
        e.mv(r10, .sp)                                      /* mv s5, sp: r10 = top of frame 0 */
        if stackSize > 0 {
            addConstant(.sp, .sp, -Int64(stackSize), e)     /* sp -= stack */
            if !proofs.stackReadsInitialized {
                statistics.clearedStackBytes = stackSize
                let cursor = RV64RegisterMap.address, loop = e.asm.makeLabel()
                e.mv(cursor, .sp)                           /* mv t1, sp */
                let step = stackSize % 32 == 0 ? 32 : 8
                e.asm.bind(loop)
                for k in 0..<step / 8 { e.sd(.zero, Int64(8 * k), cursor) } /* sd zero, 8k(t1) */
                e.addi(cursor, cursor, Int64(step))         /* addi t1, t1, step */
                e.branch(.ltu, cursor, r10, loop)           /* bltu t1, s5, loop */
            }
        }
        e.mv(RV64RegisterMap.stackBase, .sp)                /* mv s9, sp: bottom of the BPF stack */
        e.sd(.sp, Int64(layout.exitStack), context)         /* sd sp, exitStack(s6) */
        if stackSize > 0 {
            e.sd(.sp, Int64(layout.stackBase), context)     /* sd sp, stackBase(s6) */
            e.sd(r10, Int64(layout.stackEnd), context)      /* sd s5, stackEnd(s6) */
        } else {
            e.sd(.zero, Int64(layout.stackBase), context)   /* no BPF stack: helpers and checks see none */
            e.sd(.zero, Int64(layout.stackEnd), context)
        }
        e.ld(RV64RegisterMap.budget, Int64(layout.budget), context)         /* ld s7, budget(s6) */
        e.ld(RV64RegisterMap.inputStart, Int64(layout.inputStart), context) /* ld s8, inputStart(s6) */
        if tailCalls != nil && programInfo != 0 {
            e.loadImmediate(RV64RegisterMap.immediate, Int64(bitPattern: programInfo)) /* li t2, info: this program */
            e.sd(RV64RegisterMap.immediate, Int64(layout.program), context)    /* sd t2, program(s6) */
        }
        for register in zeroedRegisters { e.mv(register, .zero) }         /* li reg, 0 */
        e.jal(.ra, entryInnerLabel)                         /* jal ra, function 0 */
        e.asm.bind(errorExitLabel)
        e.ld(.sp, Int64(layout.exitStack), context)         /* ld sp, exitStack(s6): unwind every frame */
        e.mv(.a0, RV64RegisterMap.native(.r0))              /* mv a0, a5: return r0 */
        emitEntryUnwind(e)
        e.ret()                                             /* ret */
    }

    /// From the entry body's sp (context.exitStack) back to the host's:
    /// afterwards the s registers, ra and sp are the host's (a tail call from
    /// function 0 jumps to its target from here). The budget goes back to
    /// the context first, so that a program that tail-called this one from
    /// a subprogram goes on with what is left.
    func emitEntryUnwind(_ e: RV64Encoder) {
        if tailCalls != nil {
            e.sd(RV64RegisterMap.budget, Int64(layout.budget), RV64RegisterMap.context) /* sd s7, budget(s6) */
        }
        if stackSize > 0 { addConstant(.sp, .sp, Int64(stackSize), e) } /* sp += stack */
        for (k, register) in Self.entrySaved.enumerated() { e.ld(register, Int64(64 - 8 * k), .sp) } /* ld s<k> */
        e.ld(.ra, 72, .sp)                                  /* ld ra, 72(sp) */
        e.addi(.sp, .sp, Self.entryFrame)                   /* addi sp, sp, 80 */
    }

    /// rd = rs + value: one `addi` when it fits 12 bits, else through t2.
    func addConstant(_ rd: RV64Register, _ rs: RV64Register, _ value: Int64, _ e: RV64Encoder) {
        if RV64Encoder.fits12(value) {
            e.addi(rd, rs, value)                           /* addi rd, rs, value */
        } else {
            e.loadImmediate(RV64RegisterMap.immediate, value) /* li t2, value */
            e.add(rd, rs, RV64RegisterMap.immediate)        /* add rd, rs, t2 */
        }
    }

    public mutating func lower(_ instruction: Instruction, at pc: Int, in function: JITFunctionInfo,
                               _ asm: JITAssembler<RV64Branch>) throws(JITError) {
        let e = encoder(asm)
        switch instruction {
        case .alu(let width, let operation, let dst, let operand):
            lowerALU(width, operation, dst: dst, operand, e)
        case .neg(let width, let dst):
            let d = RV64RegisterMap.native(dst)
            if width == .w64 { e.sub(d, .zero, d) } else { e.subw(d, .zero, d); zext(d, e) } /* neg(w) dst */
        case .movsx(let width, let dst, let src, let bits):
            lowerMovsx(width, dst: dst, src: src, bits: Int(bits), e)
        case .byteSwap(let kind, let dst, let bits):
            lowerByteSwap(kind, dst: dst, bits: Int(bits), e)
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
            if pc + 1 != function.end { e.j(asm.epilogue(function.index)) } /* j epilogue */
        case .loadImmediate64(let dst, let value):
            if case .value(let constant) = value {
                e.loadImmediate(RV64RegisterMap.native(dst), Int64(bitPattern: constant)) /* li dst, imm64 */
            } else {
                stopUnsupported(at: pc, e)                  // the loader did not resolve it
            }
        case .immediate64Tail:
            break
        case .load(let size, let dst, let src, let offset):
            let m = checkedAddress(base: src, offset: offset, size: size.bytes, write: false, pc: pc, e)
            access(load: size, signed: false, RV64RegisterMap.native(dst), m, e)
        case .loadSignExtend(let size, let dst, let src, let offset):
            let m = checkedAddress(base: src, offset: offset, size: size.bytes, write: false, pc: pc, e)
            access(load: size, signed: true, RV64RegisterMap.native(dst), m, e)
        case .store(let size, let dst, let offset, let src):
            let m = checkedAddress(base: dst, offset: offset, size: size.bytes, write: true, pc: pc, e)
            access(store: size, RV64RegisterMap.native(src), m, e)
        case .storeImmediate(let size, let dst, let offset, let imm):
            let m = checkedAddress(base: dst, offset: offset, size: size.bytes, write: true, pc: pc, e)
            var value = RV64Register.zero
            if imm != 0 {
                value = .t3
                e.loadImmediate(value, Int64(imm))          /* li t3, imm */
            }
            access(store: size, value, m, e)
        case .atomic(let width, let operation, let dst, let offset, let src):
            lowerAtomic(width, operation, dst: dst, offset: offset, src: src, pc: pc, e)
        }
    }

    public mutating func emitTrailer(_ asm: JITAssembler<RV64Branch>) {
        let e = encoder(asm)
        let scratch = RV64RegisterMap.immediate, context = RV64RegisterMap.context
        for stub in stubs {
            switch stub {
            case .raise(let label, let status):
                asm.bind(label)
                e.loadImmediate(scratch, Int64(status))     /* li t2, kind << 24 | pc */
                e.j(raiseLabel)                             /* j raise */
            case .check(let label, let info, let resume, let address):
                asm.bind(label)
                if address != RV64RegisterMap.address { e.mv(RV64RegisterMap.address, address) } /* mv t1, address */
                e.loadImmediate(scratch, Int64(info))       /* li t2, pc << 8 | write << 4 | size */
                e.jal(.ra, checkRoutineLabel)               /* jal ra, check routine */
                e.j(resume)                                 /* j back to the access */
            }
        }
        asm.bind(raiseLabel)
        e.sd(scratch, Int64(layout.status), context)        /* sd t2, status(s6) */
        e.j(errorExitLabel)                                 /* j error exit */
        if hasCheckedAccesses { emitCheckRoutine(e) }
        if hasDispatchTable { emitDispatch(e) }
        passSizes.append(asm.code.count)
    }
}
