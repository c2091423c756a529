import BPFISA
import BPFRuntime

extension TailCallEngine {
    /// The JIT backend for `architecture`, running natively (columns 1 and up
    /// of the program arrays' tables).
    public static func jit(_ architecture: JITArchitecture) -> TailCallEngine {
        TailCallEngine(name: "jit (\(architecture))", column: 1 + JITArchitecture.allCases.firstIndex(of: architecture)!)
    }

    /// The JIT backend for `architecture` under the emulator, whose images
    /// live in an emulated machine's address space: a column of its own.
    public static func emulatedJIT(_ architecture: JITArchitecture) -> TailCallEngine {
        TailCallEngine(name: "jit (\(architecture), emulated)",
                       column: 1 + JITArchitecture.allCases.count + JITArchitecture.allCases.firstIndex(of: architecture)!)
    }
}

/// A program array as a backend compiles against it: the handle r2 must
/// hold, where the backend's column of native entries lives, and its size.
public struct JITTailCallArray: Sendable, Hashable {
    public let handle: UInt64
    /// Address of `maxEntries` words: the native entry of each slot's program, 0 when empty.
    public let entries: UInt64
    public let maxEntries: Int

    public init(handle: UInt64, entries: UInt64, maxEntries: Int) {
        self.handle = handle
        self.entries = entries
        self.maxEntries = maxEntries
    }
}

/// What a backend needs to compile `bpf_tail_call`: the arrays the program
/// may pass in r2, and which sites have a constant array and index.
public struct JITTailCallPlan: Sendable {
    /// The program arrays the program loads, in order of first appearance.
    public let arrays: [JITTailCallArray]
    /// Sites whose r2 and r3 are known at compile time (see `constantSites`):
    /// candidates for direct, live-patched tail calls.
    public let constantSites: [Int: (array: JITTailCallArray, index: UInt32)]

    public init(arrays: [JITTailCallArray], constantSites: [Int: (array: JITTailCallArray, index: UInt32)]) {
        self.arrays = arrays
        self.constantSites = constantSites
    }

    /// The plan for `program` on `engine`, from the configuration's environment.
    public init(_ program: Program, environment: TailCallEnvironment, engine: TailCallEngine) {
        let arrays = environment.arrays(referencedBy: program).map {
            JITTailCallArray(handle: $0.handle, entries: $0.nativeEntries(for: engine), maxEntries: $0.maxEntries)
        }
        var sites: [Int: (array: JITTailCallArray, index: UInt32)] = [:]
        for (pc, operands) in Self.constantSites(in: program) {
            if let array = arrays.first(where: { $0.handle == operands.handle }) { sites[pc] = (array, operands.index) }
        }
        self.init(arrays: arrays, constantSites: sites)
    }

    /// The tail calls whose r2 and r3 are constants, as the kernel's verifier
    /// finds them (it tracks the map and key over all paths; this looks only
    /// within the basic block, which is what compilers emit and Cilium's
    /// `tail_call_static` guarantees): walking back from `call 12`, the last
    /// write of r2 is `r2 = <64-bit immediate>`, the last write of r3 is a
    /// constant move, and between them and the call there is no call and no
    /// slot control can jump to.
    public static func constantSites(in program: Program) -> [Int: (handle: UInt64, index: UInt32)] {
        let instructions = program.instructions
        guard instructions.contains(where: { if case .call(.helper(TailCalls.helperID)) = $0 { true } else { false } }) else {
            return [:]
        }
        var entered = Set(program.jitFunctionEntries)   // slots control reaches other than by falling through
        for (pc, instruction) in instructions.enumerated() {
            if let target = instruction.target(at: pc) { entered.insert(target) }
        }
        var sites: [Int: (handle: UInt64, index: UInt32)] = [:]
        for (call, instruction) in instructions.enumerated() where instruction == .call(.helper(TailCalls.helperID)) {
            var handle: UInt64?, index: UInt32?
            var pc = call
            var known = true
            while known, handle == nil || index == nil {
                if entered.contains(pc) || pc == 0 { known = false; break }
                pc -= 1
                if case .immediate64Tail = instructions[pc] { pc -= 1 }
                let previous = instructions[pc]
                switch previous {
                case .call, .exit, .jump, .jumpLong:
                    known = false
                case .loadImmediate64(.r2, .value(let value)) where handle == nil:
                    handle = value
                case .alu(_, .mov, .r3, .immediate(let imm)) where index == nil:
                    index = UInt32(bitPattern: imm)
                default:
                    if let written = previous.writesRegister,
                       (written == .r2 && handle == nil) || (written == .r3 && index == nil) { known = false }
                }
            }
            if known, let handle, let index { sites[call] = (handle, index) }
        }
        return sites
    }
}

/// A direct tail-call site in an image (seed 002's bypass-and-target
/// arrangement), as the backend emitted it for the core to patch.
///
/// ```
///  bypass:  jmp fallback        ; while the slot is empty: the indirect path
///           ...count the call, unwind the frame...
///  target:  jmp/call <entry>    ; to the slot's program (a placeholder at first)
///  fallback: the indirect tail call, then the next instruction
/// ```
///
/// Installing a program writes `target` first, then turns the bypass into a
/// no-op; clearing restores the bypass and leaves `target` alone (its old
/// destination stays alive). Every instant is a valid program.
public struct JITTailCallSite: Sendable, Hashable {
    /// How the site enters the target.
    public enum Kind: Sendable, Hashable {
        /// The caller's whole frame is gone; the target is entered like a program run by the host.
        case jump
        /// From a subprogram: the target runs in a frame of its own and returns here.
        case call
    }

    public let pc: Int
    public let arrayHandle: UInt64
    public let index: Int
    public let kind: Kind
    /// Offset of the bypass instruction in the image.
    public let bypassOffset: Int
    /// The bypass as emitted (active: leads to the fallback).
    public let bypassBytes: [UInt8]
    /// Offset of the patched jump or call.
    public let targetOffset: Int

    public init(pc: Int, arrayHandle: UInt64, index: Int, kind: Kind, bypassOffset: Int, bypassBytes: [UInt8], targetOffset: Int) {
        self.pc = pc
        self.arrayHandle = arrayHandle
        self.index = index
        self.kind = kind
        self.bypassOffset = bypassOffset
        self.bypassBytes = bypassBytes
        self.targetOffset = targetOffset
    }
}

/// The architecture's half of live patching: the bytes of a site's two
/// patchable instructions. Each must lie within one aligned 8-byte word of
/// the image (`CodeMemory.patch` stores it atomically).
public protocol JITTailCallPatching: Sendable {
    /// The instruction at `site.targetOffset` that reaches `entry`, for an
    /// image at `imageAddress`; nil when `entry` is out of its reach (the
    /// bypass then stays active and the site runs its indirect fallback).
    func targetInstruction(for site: JITTailCallSite, imageAddress: UInt, entry: UInt64) -> [UInt8]?
    /// The bypass when the slot's program is entered directly (x86: a 5-byte no-op).
    func inactiveBypass(for site: JITTailCallSite) -> [UInt8]
}

/// What a JITed program keeps for its tail calls: its engine, its
/// registrations with the program arrays it loads, and how to patch its
/// direct sites.
public struct JITTailCallLinks: Sendable {
    public let engine: TailCallEngine
    public let attachments: [TailCallAttachment]
    public let patching: (any JITTailCallPatching)?

    public init(engine: TailCallEngine, attachments: [TailCallAttachment], patching: (any JITTailCallPatching)?) {
        self.engine = engine
        self.attachments = attachments
        self.patching = patching
    }
}

/// One direct site of a placed image, registered with its program array
/// (the kernel's `bpf_jit_poke_descriptor`). The array calls `retarget`
/// under its lock, so the state here needs no lock of its own.
final class JITTailCallPoke: TailCallPoke, @unchecked Sendable {
    let engine: TailCallEngine
    let site: JITTailCallSite
    private let memory: any CodeMemory
    private let allocation: CodeAllocation
    private let patching: any JITTailCallPatching
    /// Whether the bypass leads to the fallback (as emitted).
    private(set) var bypassActive = true
    /// Where the target instruction leads (nil: the placeholder it was emitted as).
    private(set) var target: UInt64?
    /// Patches the memory refused (never expected: the allocation is live).
    private(set) var failures = 0

    init(engine: TailCallEngine, site: JITTailCallSite, memory: any CodeMemory, allocation: CodeAllocation,
         patching: any JITTailCallPatching) {
        self.engine = engine
        self.site = site
        self.memory = memory
        self.allocation = allocation
        self.patching = patching
    }

    func retarget(_ entry: UInt64?) {
        if let entry, let jump = patching.targetInstruction(for: site, imageAddress: allocation.address, entry: entry) {
            // Target first: while the bypass is active nothing reaches it; a
            // thread already past a no-op bypass lands on the old or the new program.
            if target != entry {
                guard patch(site.targetOffset, jump) else { return }
                target = entry
            }
            if bypassActive, patch(site.bypassOffset, patching.inactiveBypass(for: site)) { bypassActive = false }
        } else if !bypassActive {
            // Bypass first; the target keeps leading to a program the array keeps alive.
            if patch(site.bypassOffset, site.bypassBytes) { bypassActive = true }
        }
    }

    private func patch(_ offset: Int, _ bytes: [UInt8]) -> Bool {
        do throws(CodeMemoryError) {
            try memory.patch(allocation, at: offset, bytes: bytes)
            return true
        } catch {
            failures += 1
            return false
        }
    }
}

/// The state of a direct site, for tests and listings.
public struct JITTailCallSiteState: Sendable, Hashable {
    public let site: JITTailCallSite
    /// Whether the bypass is active (the slot is empty, or its program out of reach).
    public let bypassActive: Bool
    /// The entry the target instruction leads to, nil before the first program.
    public let target: UInt64?
    public let patchFailures: Int
}
