import BPFISA

/// Architectures BPFKit's JITs target (or will). The one list of them: the
/// facade and the command line use it too (`BPFKit.Architecture`).
public enum JITArchitecture: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case x86_64 = "x86_64", arm64, arm32, mips32le, mips32be, riscv64

    public var description: String { rawValue }

    /// Parses the names people type (`x86-64`, `aarch64`, `mipsel`...).
    public init?(name: String) {
        switch name.lowercased() {
        case "x86_64", "x86-64", "amd64", "x64": self = .x86_64
        case "arm64", "aarch64": self = .arm64
        case "arm32", "arm", "armv7": self = .arm32
        case "mips32le", "mipsel", "mips32el": self = .mips32le
        case "mips32be", "mips", "mips32": self = .mips32be
        case "riscv64", "riscv", "rv64": self = .riscv64
        default: return nil
        }
    }

    /// The architecture of the machine BPFKit runs on, if a native JIT could target it.
    public static var host: JITArchitecture? {
        #if arch(x86_64)
        return .x86_64
        #elseif arch(arm64)
        return .arm64
        #else
        return nil
        #endif
    }
}

/// One function of a program: the entry function (index 0) or a local-call target.
public struct JITFunctionInfo: Sendable, Hashable {
    public let index: Int
    /// First slot.
    public let entry: Int
    /// One past the last slot.
    public let end: Int

    public var isEntry: Bool { index == 0 }

    public init(index: Int, entry: Int, end: Int) {
        self.index = index
        self.entry = entry
        self.end = end
    }
}

/// What the calls of an image resolved to, counted in the writing pass.
public struct JITStatistics: Sendable, Hashable {
    /// Calls to host code (helpers, slow paths) reached with a direct call.
    public var directCalls = 0
    /// Calls that had to load the address into a register first.
    public var indirectCalls = 0
    /// Bounds checks emitted inline (memory accesses not proven safe at compile time).
    public var checkedAccesses = 0
    /// Runaway-guard charges emitted (backward jumps and local calls not
    /// proven to end within the run budget).
    public var guardCharges = 0
    /// Whether the code touches the run context at all; code that does not
    /// (no checks, calls or guards) can be entered without one.
    public var usesRunContext = false
    /// Tail calls to a constant slot of a constant program array, live-patched (`JITImage.tailCallSites`).
    public var directTailCalls = 0
    /// Tail calls that look their target up at run time.
    public var indirectTailCalls = 0
    /// Local calls that check the call depth at run time (x86-64: none when
    /// the call graph is bounded, `JITFramePlan`; arm64 does not count them).
    public var callDepthChecks = 0
    /// Bytes of BPF stack the entry prologue zeroes (x86-64: none when no
    /// read can see an unwritten byte; arm64 does not count them).
    public var clearedStackBytes = 0
    /// Tail calls that compare r1 with the run's context before anything
    /// else (every tail call: a backstop kept whatever the proofs say).
    public var tailCallContextChecks = 0
    public init() {}
}

/// An architecture's part of a JIT: its register map, prologue, epilogue and
/// the lowering of one instruction. The pass driver (`JITDriver`) does the
/// rest: passes, labels, fixups, padding, allocation and verification.
///
/// Backends must lower deterministically: a pass may differ from the one
/// before only in the forms `JITAssembler.chooseShort` picked and in
/// sequences that depend on `imageAddress`, and they must make labels and
/// branch sites in the same order every pass.
public protocol JITBackend {
    associatedtype Branch: BranchKind

    static var architecture: JITArchitecture { get }

    /// Emits exactly `count` bytes of no-op instructions.
    static func emitPadding(_ count: Int, into code: CodeBuffer)

    /// Called at the start of every pass.
    mutating func beginPass(_ asm: JITAssembler<Branch>)
    /// Emits the prologue of `function` (its entry label is already placed).
    mutating func emitPrologue(_ function: JITFunctionInfo, _ asm: JITAssembler<Branch>)
    /// Emits the native code of the instruction at slot `pc`.
    mutating func lower(_ instruction: Instruction, at pc: Int, in function: JITFunctionInfo,
                        _ asm: JITAssembler<Branch>) throws(JITError)
    /// Emits the epilogue of `function` (its epilogue label is already placed).
    mutating func emitEpilogue(_ function: JITFunctionInfo, _ asm: JITAssembler<Branch>)
    /// Emits what follows the body: shared routines and out-of-line stubs.
    mutating func emitTrailer(_ asm: JITAssembler<Branch>)
    /// What the last pass emitted.
    var statistics: JITStatistics { get }
    /// The direct tail-call sites the last pass emitted (backends without
    /// direct tail calls keep the default: none).
    var tailCallSites: [JITTailCallSite] { get }
    /// Whether a pass whose layout needs no other pass is written as it is,
    /// without a pass that repeats it to confirm (`JITDriver`): the
    /// backend's choices depend on nothing but `chooseShort` and the image
    /// address, so a pass in which every short form reached is final.
    /// Default false: every layout is confirmed by an identical pass.
    static var writesSelfConsistentPass: Bool { get }
    /// Makes the next pass, at the same address, from the last one by
    /// re-encoding its branch sites (`JITAssembler.replay`) instead of
    /// lowering the program again, where what the last pass emitted between
    /// its sites does not depend on where it stands. Returns false to have
    /// the pass lowered (the default).
    mutating func replayPass(_ asm: JITAssembler<Branch>) -> Bool
}

extension JITBackend {
    public var tailCallSites: [JITTailCallSite] { [] }
    public static var writesSelfConsistentPass: Bool { false }
    public mutating func replayPass(_ asm: JITAssembler<Branch>) -> Bool { false }
}

extension Program {
    /// The same as `functionEntries` (0 and every local-call or code-address
    /// target, sorted) without hashing: the driver and backends ask for it on
    /// every compile.
    public var jitFunctionEntries: [Int] {
        var entries = [0]
        for (pc, instruction) in instructions.enumerated() {
            switch instruction {
            case .call(.local), .loadImmediate64(_, .codeAddress):
                if let target = instruction.target(at: pc) { entries.append(target) }
            default:
                continue
            }
        }
        guard entries.count > 1 else { return entries }
        entries.sort()
        var unique = [entries[0]]
        for entry in entries.dropFirst() where entry != unique[unique.count - 1] { unique.append(entry) }
        return unique
    }
}
