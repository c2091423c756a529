import BPFISA
import BPFJIT
import BPFRuntime

/// The x86-64 backend: lowers BPF instructions to x86-64 for the shared
/// pass driver. Register map in `RegisterMap`, frame in `FrameLayout`.
public struct X86_64Backend: JITBackend {
    public typealias Branch = X86Branch
    public static let architecture = JITArchitecture.x86_64
    /// Nothing but branch forms and the image address decides what a pass
    /// emits, so a pass in which every short branch reached is written.
    public static let writesSelfConsistentPass = true

    let program: Program
    let options: JITOptions
    /// The program was rewritten through the auxiliary register (constant
    /// blinding, `JITBlinding`): r9, its home, survives the bounds-check
    /// slow paths, which otherwise use it as scratch.
    let preservesAuxiliary: Bool
    let helpers: JITHelperTable
    let layout = JITRunContext.layout
    let frame: FrameLayout
    /// Whether any code touches the run context (r12).
    let usesContext: Bool
    /// Whether the entry function is also a local-call target (recursion into
    /// it): then the entry prologue calls it like any other function.
    let entryIsCallTarget: Bool
    let functionOfEntry: [Int: Int]
    /// Registers the entry prologue clears: r0 and those of r3–r9 the program
    /// names, so that no host value leaks into a run (the interpreter starts
    /// them at zero too).
    let zeroedRegisters: [GPR]
    /// How the BPF stack is laid out over local calls (`JITFramePlan`):
    /// whether the entry zeroes it, whether calls check the depth.
    public let framePlan: JITFramePlan
    /// Per local-call pc: how far the call moves rbp down (its caller's frame).
    let callFrameBytes: [Int: Int]
    /// Whether any access is checked at run time (then the check routine is emitted).
    let hasCheckedAccesses: Bool
    /// Per slot: inside a loop or a subprogram, where a checked access keeps
    /// its whole slow path in its own stub (empty without checked accesses).
    let repeats: [Bool]
    /// What a verifier proved about this program (`JITProofs.none` without proofs).
    let proofs: JITProofs
    /// Host routine addresses (their own addresses, or substitutes in tests).
    let routines: HostRoutineAddresses
    /// The program arrays of `bpf_tail_call`; nil when `call 12` is a plain helper call.
    let tailCalls: JITTailCallPlan?
    /// Per helper-call pc, bit `i - 1` for each r`i` (1–5) read after the call:
    /// the registers the call site keeps (`ArgumentLiveness`).
    let liveAcrossCalls: [Int: UInt8]
    /// Helper calls the verifier proved, by pc (`JITHelperTable.provenCalls`).
    let provenCalls: [Int: ProvenHelperCall]
    /// Selects and address arithmetic found before the passes (`X86Peepholes`).
    let peepholes: X86Peepholes
    /// Stack slots kept in host registers (`X86SlotPromotion`).
    let promotion: X86SlotPromotion
    /// The address of the program's `JITProgramInfo`, which the entry
    /// prologue stores in the run context (0: store nothing).
    public var programInfo: UInt64 = 0

    /// Whether passes after the first at one address may be replayed
    /// (`replayPass`); tests turn it off to compare with lowered passes.
    public var replaysPasses = true

    public internal(set) var statistics = JITStatistics()
    /// Direct tail-call sites of this pass.
    public internal(set) var tailCallSites: [JITTailCallSite] = []

    // Per-pass state.
    var stubs: [Stub] = []
    var raiseLabel = Label(id: 0)
    var errorExitLabel = Label(id: 0)
    var checkRoutineLabel = Label(id: 0)
    /// The shared dynamic-region checks (`DynamicCheck.index`), and which of them the pass used.
    var dynamicCheckLabels: [Label] = []
    var dynamicChecksUsed: UInt8 = 0
    var entryInnerLabel = Label(id: 0)
    var entryReturnLabel = Label(id: 0)

    /// Out-of-line code placed after the body.
    enum Stub {
        /// `mov r10d, status; jmp raise`.
        case raise(Label, status: UInt32)
        /// The slow path of the bounds check of one access (see `checkedAddress`).
        case check(Label, address: Memory, info: UInt32, path: SlowPath, resume: Label)
    }

    /// How an access's stub goes on after the inline check failed.
    enum SlowPath {
        /// The dynamic-region check in the stub itself, then the check
        /// routine (accesses in loops: no call on the packet's fast path).
        case inline(DynamicCheck)
        /// A call to the dynamic-region check shared by all accesses of its
        /// size and direction (accesses that run once: smaller).
        case shared(DynamicCheck)
        /// Straight to the check routine (atomics, which it also aligns).
        case host
    }

    /// Where calls into the host go.
    public struct HostRoutineAddresses: Sendable {
        public var callHelper: UInt
        public var checkAccess: UInt
        public init(callHelper: UInt = JITHostRoutines.callHelperAddress,
                    checkAccess: UInt = JITHostRoutines.checkAccessAddress) {
            self.callHelper = callHelper
            self.checkAccess = checkAccess
        }
    }

    public init(program: Program, helpers: JITHelperTable, options: JITOptions,
                routines: HostRoutineAddresses = HostRoutineAddresses(), tailCalls: JITTailCallPlan? = nil,
                proofs: JITProofs = .none) throws(JITError) {
        guard program.count <= JITStatus.maxPC else { throw .tooLarge("more than \(JITStatus.maxPC) instruction slots") }
        self.program = program
        self.options = options
        preservesAuxiliary = program.usesAuxiliaryRegister
        self.proofs = proofs
        self.helpers = helpers
        self.routines = routines
        self.tailCalls = tailCalls
        let entries = program.jitFunctionEntries
        var functions: [(entry: Int, end: Int)] = []
        var functionOfEntry: [Int: Int] = [:]
        for (k, entry) in entries.enumerated() {
            functions.append((entry, k + 1 < entries.count ? entries[k + 1] : program.count))
            functionOfEntry[entry] = k
        }
        self.functionOfEntry = functionOfEntry
        liveAcrossCalls = ArgumentLiveness.liveAcrossCalls(program, functions: functions,
                                                            registersInitialized: proofs.registersInitialized)

        provenCalls = helpers.provenCalls(program, proofs: proofs)
        var context = false, calls = false, entryCalled = false, checks = false
        let checked = options.memoryChecking == .checked
        var mentioned: UInt16 = 0   // bit per register any instruction names
        // See `JITFramePlan` and `JITStackSizing` (the stack clear works in words).
        let plan = JITFramePlan(program, functions: functions, proofs: proofs, granule: 16,
                                provenClearLimit: options.provenStackClearLimit)
        for (pc, instruction) in program.instructions.enumerated() {
            let names = instruction.namedRegisters
            mentioned |= names
            switch instruction {
            case .call(.local):
                // The depth check and the guard read the context; a bounded,
                // guard-free call is just a call.
                if plan.checksCallDepth || !proofs.unguarded { context = true }
                calls = true
                if instruction.target(at: pc) == 0 { entryCalled = true }
            case .call(.helper) where provenCalls[pc] != nil:
                if case .function = provenCalls[pc]! { calls = true }   // inline lookups call nothing
            case .call: context = true; calls = true
            case .jump, .jumpLong, .branch:
                // Backward: charged to the runaway guard, unless proven to end in time.
                if let target = instruction.target(at: pc), target <= pc, !proofs.unguarded { context = true }
            case .loadImmediate64(_, let kind) where kind.sourceField != 0:
                context = true
            case .load, .loadSignExtend, .store, .storeImmediate, .atomic:
                if checked, JITStackSizing.needsCheck(instruction), !proofs.provesSafe(instruction, at: pc) {
                    context = true; calls = true; checks = true
                }
            default: break
            }
        }
        usesContext = context
        entryIsCallTarget = entryCalled
        promotion = options.instructionSelection.contains(.slots)
            ? X86SlotPromotion(program, functionCount: functions.count, usesContext: context,
                               usesAuxiliary: program.usesAuxiliaryRegister)
            : .none
        // Proven to write every register before reading it: nothing to clear.
        let cleared: UInt16 = proofs.registersInitialized ? 0 : mentioned | 1
        var zeroed: [GPR] = []
        for register in [Register.r0, .r3, .r4, .r5, .r6, .r7, .r8, .r9] where cleared & (1 << register.rawValue) != 0 {
            zeroed.append(RegisterMap.native(register))
        }
        hasCheckedAccesses = checks
        repeats = checks ? Self.repeatedSlots(program, functions: functions, entryCalled: entryCalled) : []
        framePlan = plan
        var callFrameBytes: [Int: Int] = [:]
        for (k, function) in functions.enumerated() {
            for pc in function.entry..<function.end {
                if case .call(.local) = program.instructions[pc] { callFrameBytes[pc] = plan.frameBytes[k] }
            }
        }
        self.callFrameBytes = callFrameBytes
        frame = Self.frameLayout(program, functions: functions, stackSize: plan.stackSize,
                                 usesContext: context, makesCalls: calls || entryCalled, zeroedAtEntry: cleared,
                                 slotRegisters: promotion.calleeSaved)
        if Self.stackClearZeroes(plan) { zeroed.removeAll { $0 == .rax || $0 == .rcx } }
        zeroedRegisters = zeroed
        peepholes = options.instructionSelection.isEmpty ? .none
            : X86Peepholes(program, entries: entries, choice: options.instructionSelection,
                           allowBackwardJoins: proofs.unguarded,
                           provenLoad: { [options, proofs] pc in
                               options.memoryChecking == .unchecked || proofs.isSafeAccess(at: pc) })
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
        X86Encoder.nop(count, into: code)
    }

    public mutating func beginPass(_ asm: JITAssembler<X86Branch>) {
        stubs.removeAll(keepingCapacity: true)
        tailCallSites.removeAll(keepingCapacity: true)
        let keep = statistics.usesRunContext
        statistics = JITStatistics()
        statistics.usesRunContext = keep
        raiseLabel = asm.makeLabel()
        errorExitLabel = asm.makeLabel()
        checkRoutineLabel = asm.makeLabel()
        dynamicCheckLabels = (0..<8).map { _ in asm.makeLabel() }
        dynamicChecksUsed = 0
        entryInnerLabel = asm.makeLabel()
        entryReturnLabel = asm.makeLabel()
    }

    /// Branch relaxation without lowering again: a pass whose bytes between
    /// branch sites do not depend on where they stand is replayed with its
    /// sites re-encoded (`JITAssembler.replay`). Not when the pass aligned
    /// anything to its positions (loop heads, direct tail-call patch sites,
    /// which also record their offsets) or called the host by `call rel32`
    /// (its displacement depends on the call's own address).
    public mutating func replayPass(_ asm: JITAssembler<X86Branch>) -> Bool {
        guard replaysPasses, peepholes.loopHeads.isEmpty, statistics.directTailCalls == 0, tailCallSites.isEmpty,
              statistics.directCalls == 0 else { return false }
        return asm.replay()
    }

    public mutating func emitPrologue(_ function: JITFunctionInfo, _ asm: JITAssembler<X86Branch>) {
        let e = X86Encoder(asm)
        guard function.isEntry else {
            emitFunctionPrologue(function.index, e)
            return
        }
        emitEntryPrologue(e)
        if entryIsCallTarget {
            e.call(entryInnerLabel)                         /* call entry function as a callee */
            asm.bind(entryReturnLabel)
            emitEntryEpilogue(e)
            asm.bind(entryInnerLabel)
            emitFunctionPrologue(0, e)
        }
    }

    public mutating func emitEpilogue(_ function: JITFunctionInfo, _ asm: JITAssembler<X86Branch>) {
        let e = X86Encoder(asm)
        if function.isEntry && !entryIsCallTarget {
            emitEntryEpilogue(e)
        } else {
            emitFunctionEpilogue(function.index, e)
        }
    }

    public mutating func lower(_ instruction: Instruction, at pc: Int, in function: JITFunctionInfo,
                               _ asm: JITAssembler<X86Branch>) throws(JITError) {
        let e = X86Encoder(asm)
        if peepholes.absorbed.isEmpty || !peepholes.absorbed[pc] {        // else emitted with an earlier slot
            try lowerSlot(instruction, at: pc, in: function, e)
        }
        if !peepholes.loopHeads.isEmpty { alignLoopHead(after: pc, in: function, e) }
    }

    mutating func lowerSlot(_ instruction: Instruction, at pc: Int, in function: JITFunctionInfo,
                            _ e: X86Encoder) throws(JITError) {
        let asm = e.asm
        if !promotion.homes.isEmpty, let home = promotion.homes[pc] {
            emitPromotedAccess(instruction, home: home, at: pc, e)
            return
        }
        switch instruction {
        case .alu(_, _, let dst, _) where !peepholes.addresses.isEmpty && peepholes.addresses[pc] != nil:
            emitAddress(peepholes.addresses[pc]!, dst: dst, e)
        case .alu(let width, let operation, let dst, let operand):
            lowerALU(width, operation, dst: dst, operand, e)
        case .neg(let width, let dst):
            e.neg(OperandSize(width), RegisterMap.native(dst))   /* neg dst */
        case .movsx(let width, let dst, let src, let bits):
            lowerMovsx(width, dst: dst, src: src, bits: bits, e)
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
            if pc + 1 != function.end { e.jmp(asm.epilogue(function.index)) } /* jmp epilogue */
        case .loadImmediate64(let dst, let value):
            if case .value(let constant) = value {
                loadConstant(RegisterMap.native(dst), constant, e)
            } else {
                stopUnsupported(at: pc, e)                  // the loader did not resolve it
            }
        case .immediate64Tail:
            break
        case .load(let size, let dst, _, let offset) where !peepholes.indexed.isEmpty && peepholes.indexed[pc] != nil:
            let shape = peepholes.indexed[pc]!
            e.loadIndexed(OperandSize(size), RegisterMap.native(dst), base: RegisterMap.native(shape.base),
                          index: RegisterMap.native(shape.index), scale: shape.scale, disp: Int32(offset)) /* mov dst, [b + i*s + k] */
        case .load(let size, _, let src, let offset) where !peepholes.folds.isEmpty && peepholes.folds[pc] != nil:
            emitFoldedLoad(peepholes.folds[pc]!, base: src, offset: offset, size: size.bytes, at: pc, e)
        case .load(let size, let dst, let src, let offset):
            let m = checkedAddress(base: src, offset: offset, size: size.bytes, write: false, pc: pc, e)
            e.load(OperandSize(size), RegisterMap.native(dst), m)          /* mov/movzx dst, [m] */
        case .loadSignExtend(let size, let dst, let src, let offset):
            let m = checkedAddress(base: src, offset: offset, size: size.bytes, write: false, pc: pc, e)
            e.loadSignExtend(OperandSize(size), RegisterMap.native(dst), m) /* movsx dst, [m] */
        case .store(let size, let dst, let offset, let src):
            let m = checkedAddress(base: dst, offset: offset, size: size.bytes, write: true, pc: pc, e)
            e.store(OperandSize(size), m, RegisterMap.native(src))          /* mov [m], src */
        case .storeImmediate(let size, let dst, let offset, let imm):
            let m = checkedAddress(base: dst, offset: offset, size: size.bytes, write: true, pc: pc, e)
            e.store(OperandSize(size), m, imm: imm)                         /* mov [m], imm */
        case .atomic(let width, let operation, let dst, let offset, let src):
            lowerAtomic(width, operation, dst: dst, offset: offset, src: src, pc: pc, e)
        }
    }

    public mutating func emitTrailer(_ asm: JITAssembler<X86Branch>) {
        let e = X86Encoder(asm)
        for stub in stubs {
            switch stub {
            case .raise(let label, let status):
                asm.bind(label)
                e.mov32(.r10, imm: status)                  /* mov r10d, kind << 24 | pc */
                e.jmp(raiseLabel)                           /* jmp raise */
            case .check(let label, let address, let info, let path, let resume):
                asm.bind(label)
                emitCheckStub(address: address, info: info, path: path, resume: resume, e)
            }
        }
        for routine in DynamicCheck.used(dynamicChecksUsed) { emitDynamicCheck(routine, e) }
        guard usesContext else { return }
        let context = RegisterMap.context
        asm.bind(raiseLabel)
        e.store(.qword, Memory(context, layout.status), .r10)   /* mov [r12+status], r10 */
        asm.bind(errorExitLabel)
        e.load(.qword, .rsp, Memory(context, layout.exitStack)) /* mov rsp, [r12+exitStack]: unwind */
        if frame.hasFramePointer {
            e.lea(.rbp, Memory(.rsp, Int32(frame.entryFrameBytes))) /* lea rbp, [rsp + frame]: r10 of frame 0 */
        }
        e.jmp(entryIsCallTarget ? entryReturnLabel : asm.epilogue(0)) /* jmp entry epilogue */
        if hasCheckedAccesses { emitCheckRoutine(e) }
    }

    /// The slow bounds check shared by all access sites: saves the live
    /// argument registers, calls `JITHostRoutines.checkAccess(context,
    /// address, info)`, and leaves through the error exit if it refused.
    mutating func emitCheckRoutine(_ e: X86Encoder) {
        e.asm.bind(checkRoutineLabel)
        // 7 or 9 pushes: rsp 16-aligned at the call (r9 and r10: the auxiliary register and its pair).
        let saved: [GPR] = preservesAuxiliary ? [.rax, .rdi, .rsi, .rdx, .rcx, .r8, .r9, .r10, .r11]
                                              : [.rax, .rdi, .rsi, .rdx, .rcx, .r8, .r11]
        for register in saved { e.push(register) }          /* push r0–r5 homes and the address */
        e.mov(.qword, .rdi, RegisterMap.context)            /* mov rdi, r12: context */
        e.mov(.qword, .rsi, .r11)                           /* mov rsi, r11: address */
        e.mov(.qword, .rdx, .r10)                           /* mov rdx, r10: access info */
        callHost(routines.checkAccess, e)
        e.test(.qword, .rax, .rax)                          /* test rax, rax: refused? */
        for register in saved.reversed() { e.pop(register) } /* pop (flags survive) */
        e.j(.ne, errorExitLabel)                            /* jne error exit */
        e.ret()                                             /* ret to the stub */
    }

    /// `call target` directly when it is within ±2 GiB of every byte the
    /// image may occupy, else `movabs rax, target; call rax`. While the image
    /// address is unknown the long form is sized.
    mutating func callHost(_ target: UInt, _ e: X86Encoder) {
        if let address = e.asm.imageAddress, Self.reaches(target, from: address, span: max(e.asm.imageCapacity, 1 << 24)) {
            e.call(absolute: target, from: address + UInt(e.code.count)) /* call rel32 */
            statistics.directCalls += 1
        } else {
            e.movabs(.rax, imm: UInt64(target))             /* movabs rax, target */
            e.call(.rax)                                    /* call rax */
            statistics.indirectCalls += 1
        }
    }

    /// Whether a rel32 call from anywhere in `[address, address + span]` reaches `target`.
    static func reaches(_ target: UInt, from address: UInt, span: Int) -> Bool {
        let t = Int64(bitPattern: UInt64(target))
        let low = Int64(bitPattern: UInt64(address)), high = low &+ Int64(span)
        return X86Encoder.isInt32(t &- low) && X86Encoder.isInt32(t &- high)
    }
}
