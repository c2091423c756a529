import BPFISA
import CUnicorn

/// Everything a JIT backend tells the emulated machine about its target:
/// which CPU Unicorn emulates, where the calling convention puts arguments
/// and results, which registers hold the stack pointer and the return
/// address, and which instruction traps. Nothing else is architecture
/// specific in BPFEmulator; the five targets BPFKit ships are described in
/// `Architectures.swift`.
///
/// One convention serves both directions: the machine uses `arguments` to
/// pass the program's entry arguments and to read the arguments of every
/// helper or runtime call, and `result` to read the program's result and to
/// return a helper's. Every argument is a 64-bit value (eBPF registers are
/// 64 bits wide), so on 32-bit targets each travels in a register pair or an
/// 8-byte stack slot, as AAPCS and MIPS O32 pass a 64-bit integer.
public struct EmulatedArchitecture: Hashable, Sendable, CustomStringConvertible {
    /// Short name, as on the command line (`arm64`, `mips32be`).
    public var name: String
    /// The CPU Unicorn emulates.
    public var cpu: UnicornCPU
    /// Bytes in a general-purpose register and in a pointer: 8 or 4.
    /// 4 selects translated addresses (see `AddressModel`).
    public var wordSize: Int
    /// Byte order of data memory.
    public var byteOrder: ByteOrder
    /// Where arguments one to five travel, in order.
    public var arguments: [ArgumentLocation]
    /// Where a 64-bit result is returned.
    public var result: ResultLocation
    public var stackPointer: EmulatedRegister
    /// Alignment of the stack pointer at a call (AAPCS64 and RISC-V: 16; AAPCS: 8; O32: 8).
    public var stackAlignment: Int
    /// Where a call leaves its return address (x30, lr, ra); the machine
    /// returns from a helper by jumping there.
    public var linkRegister: EmulatedRegister
    /// Bytes from a call instruction to the return address it leaves: 4, or 8
    /// on MIPS where the delay slot is skipped. Locates the call site of a helper.
    public var returnAddressOffset: Int
    public var programCounter: EmulatedRegister
    /// A register that must hold the entry address on entry (MIPS O32 `t9`
    /// for position-independent code), if any.
    public var entryAddressRegister: EmulatedRegister?
    /// Registers a call may destroy. After each helper or runtime call the
    /// machine fills those that do not carry the result with a poison value,
    /// so a backend that keeps a value in one across a call fails in emulation
    /// as it would natively.
    public var callerSaved: [EmulatedRegister]
    /// Registers a function must preserve. The machine seeds them with known
    /// values at entry and reports any that differ at exit.
    public var calleeSaved: [EmulatedRegister]
    /// One trap instruction in memory order; trampoline pages are filled with it.
    public var trap: [UInt8]
    /// How helper arguments and results travel: every one as a 64-bit value
    /// in `arguments`/`result` (the default), or by the helper's prototype
    /// (`.aapcs`, which the arm32 backend uses). Runtime calls always use
    /// `arguments`.
    public var helperArguments: HelperArgumentConvention = .uniform64
    /// Instructions the emulated CPU model lacks that the machine performs
    /// itself when the CPU refuses them (nil: none; such an instruction is a fault).
    public var softInstructions: SoftInstructions?

    public init(
        name: String, cpu: UnicornCPU, wordSize: Int, byteOrder: ByteOrder,
        arguments: [ArgumentLocation], result: ResultLocation,
        stackPointer: EmulatedRegister, stackAlignment: Int,
        linkRegister: EmulatedRegister, returnAddressOffset: Int,
        programCounter: EmulatedRegister, entryAddressRegister: EmulatedRegister? = nil,
        callerSaved: [EmulatedRegister], calleeSaved: [EmulatedRegister], trap: [UInt8]
    ) {
        self.name = name
        self.cpu = cpu
        self.wordSize = wordSize
        self.byteOrder = byteOrder
        self.arguments = arguments
        self.result = result
        self.stackPointer = stackPointer
        self.stackAlignment = stackAlignment
        self.linkRegister = linkRegister
        self.returnAddressOffset = returnAddressOffset
        self.programCounter = programCounter
        self.entryAddressRegister = entryAddressRegister
        self.callerSaved = callerSaved
        self.calleeSaved = calleeSaved
        self.trap = trap
    }

    /// How emulated addresses relate to host addresses on this target.
    public var addressModel: AddressModel { wordSize == 8 ? .identity : .translated }

    public var description: String { name }

    /// Checks the description before a machine relies on it.
    func validate() throws(EmulatorError) {
        func fail(_ reason: String) -> EmulatorError { .invalidArchitecture(name: name, reason: reason) }
        guard wordSize == 4 || wordSize == 8 else { throw fail("word size must be 4 or 8 bytes") }
        guard arguments.count == 5 else { throw fail("eBPF passes five arguments; \(arguments.count) locations given") }
        guard !trap.isEmpty, trap.count <= Trampolines.slotSize,
              Trampolines.slotSize % trap.count == 0 else {
            throw fail("the trap instruction must tile a \(Trampolines.slotSize)-byte trampoline slot")
        }
        guard stackAlignment > 0, stackAlignment & (stackAlignment - 1) == 0, stackAlignment <= 64 else {
            throw fail("stack alignment must be a power of two up to 64")
        }
        guard returnAddressOffset > 0 else { throw fail("return address offset must be positive") }
        for case .stack(let offset) in arguments where offset < 0 || offset % 4 != 0 || offset + 8 > 64 {
            throw fail("stack argument offsets must be word aligned within the 64-byte outgoing area")
        }
        if case .riscvBitManipulation? = softInstructions,
           cpu.architecture != UC_ARCH_RISCV.rawValue || wordSize != 8 {
            throw fail("the Zba/Zbb instructions are performed for RISC-V 64 only")
        }
        if wordSize == 8 {
            for location in arguments where location.isPair { throw fail("64-bit targets pass arguments in single registers") }
            if case .registerPair = result { throw fail("64-bit targets return in a single register") }
        }
    }
}

/// Instructions an emulated machine performs in software: when the CPU
/// raises its illegal-instruction exception on one of them, the machine
/// decodes it, computes its result into the destination register and
/// resumes at the next instruction. Every other illegal instruction (and
/// these, on a machine without them) stops the run as a fault.
public enum SoftInstructions: Hashable, Sendable {
    /// RISC-V 64's Zba and Zbb (`RISCVBitManipulation`), each extension
    /// performed only when named: Unicorn 2.0.1's RV64 core implements neither.
    case riscvBitManipulation(zba: Bool, zbb: Bool)
}

/// A register of the emulated CPU: its name in the architecture manual and
/// Unicorn's number for it (`UC_ARM64_REG_X0`...).
public struct EmulatedRegister: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var unicornID: Int32

    public init(_ name: String, unicornID: Int32) {
        self.name = name
        self.unicornID = unicornID
    }

    public var description: String { name }
}

/// Which CPU Unicorn emulates: `uc_arch`, `uc_mode` bits and, where the
/// default model lacks instructions the backend emits, a `UC_CPU_*` model.
public struct UnicornCPU: Hashable, Sendable {
    public var architecture: UInt32
    public var mode: UInt32
    /// nil: Unicorn's default model for the architecture.
    public var model: Int32?

    public init(architecture: UInt32, mode: UInt32, model: Int32? = nil) {
        self.architecture = architecture
        self.mode = mode
        self.model = model
    }
}


/// Where one 64-bit argument travels.
public enum ArgumentLocation: Hashable, Sendable {
    /// A 64-bit register.
    case register(EmulatedRegister)
    /// Two 32-bit registers; which one holds the low half is the ABI's
    /// choice (MIPS O32 big-endian puts the high half in the first).
    case registerPair(low: EmulatedRegister, high: EmulatedRegister)
    /// An 8-byte slot at `offset` bytes above the stack pointer at the call,
    /// in the target's byte order (AAPCS: from 0; MIPS O32: from 16, after
    /// the home area of a0–a3).
    case stack(offset: Int)

    var isPair: Bool {
        if case .registerPair = self { true } else { false }
    }
}

/// Where a 64-bit result is returned.
public enum ResultLocation: Hashable, Sendable {
    case register(EmulatedRegister)
    case registerPair(low: EmulatedRegister, high: EmulatedRegister)

    var registers: [EmulatedRegister] {
        switch self {
        case .register(let r): [r]
        case .registerPair(let low, let high): [low, high]
        }
    }
}
