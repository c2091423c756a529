import BPFISA
import CUnicorn

/// The targets BPFKit's foreign backends generate code for, as the emulated
/// machine needs to know them. One row per target; a new backend adds one.
///
/// Calling conventions (every argument and result is a 64-bit value):
///
/// | target   | arguments 1–5                          | result      | return address | trap (llvm-mc)  |
/// |----------|----------------------------------------|-------------|----------------|-----------------|
/// | arm64    | x0 x1 x2 x3 x4 (AAPCS64)               | x0          | x30, `ret`     | `brk #0`        |
/// | arm32    | r0:r1 r2:r3 [sp] [sp+8] [sp+16] (AAPCS)| r0:r1       | lr, `bx lr`    | `udf #0`        |
/// | mips32le | a0:a1 a2:a3 [sp+16] [sp+24] [sp+32] (O32) | v0:v1    | ra, `jr ra`    | `break`         |
/// | mips32be | a1:a0 a3:a2 [sp+16] [sp+24] [sp+32] (O32) | v1:v0    | ra, `jr ra`    | `break`         |
/// | riscv64  | a0 a1 a2 a3 a4 (LP64)                  | a0          | ra, `ret`      | `ebreak`        |
///
/// Pairs are written low:high. AAPCS passes a 64-bit integer in an even/odd
/// pair with the low word first (little endian); O32 passes it in a0:a1 or
/// a2:a3 "in memory order", so the big-endian target has the high word in
/// the first register, and its stack slots start after the 16-byte home
/// area of a0–a3. Trap bytes are `llvm-mc -show-encoding` output, checked
/// against LLVM by `ArchitectureTableTests`.
extension EmulatedArchitecture {
    /// AArch64, little endian. The "max" CPU model: Unicorn's default
    /// (Cortex-A72, ARMv8.0) lacks the LSE atomics the backend can emit.
    public static let arm64 = EmulatedArchitecture(
        name: "arm64",
        cpu: UnicornCPU(architecture: UC_ARCH_ARM64.rawValue, mode: UC_MODE_ARM.rawValue | UC_MODE_LITTLE_ENDIAN.rawValue,
                        model: Int32(UC_CPU_ARM64_MAX.rawValue)),
        wordSize: 8, byteOrder: .little,
        arguments: (0..<5).map { .register(arm64X($0)) },
        result: .register(arm64X(0)),
        stackPointer: register("sp", UC_ARM64_REG_SP), stackAlignment: 16,
        linkRegister: arm64X(30), returnAddressOffset: 4,
        programCounter: register("pc", UC_ARM64_REG_PC),
        // x18 is the platform register: neither side may rely on it, so it is left alone.
        callerSaved: (0...17).map(arm64X),
        calleeSaved: (19...29).map(arm64X),
        trap: [0x00, 0x00, 0x20, 0xd4]  // brk #0
    )

    /// 32-bit ARM (A32 instruction set), little endian, on a Cortex-A15:
    /// ARMv7-A with the integer divide and LDREXD/STREXD the backend uses.
    public static let arm32 = EmulatedArchitecture(
        name: "arm32",
        cpu: UnicornCPU(architecture: UC_ARCH_ARM.rawValue, mode: UC_MODE_ARM.rawValue | UC_MODE_LITTLE_ENDIAN.rawValue,
                        model: Int32(UC_CPU_ARM_CORTEX_A15.rawValue)),
        wordSize: 4, byteOrder: .little,
        arguments: [.registerPair(low: armR(0), high: armR(1)), .registerPair(low: armR(2), high: armR(3)),
                    .stack(offset: 0), .stack(offset: 8), .stack(offset: 16)],
        result: .registerPair(low: armR(0), high: armR(1)),
        stackPointer: register("sp", UC_ARM_REG_SP), stackAlignment: 8,
        linkRegister: register("lr", UC_ARM_REG_LR), returnAddressOffset: 4,
        programCounter: register("pc", UC_ARM_REG_PC),
        callerSaved: (0...3).map(armR) + [armR(12), register("lr", UC_ARM_REG_LR)],
        calleeSaved: (4...11).map(armR),
        trap: [0xf0, 0x00, 0xf0, 0xe7]  // udf #0
    )

    /// MIPS32 release 2, little endian (Unicorn's default 74Kf model), O32 ABI.
    public static let mips32le = mips32(
        name: "mips32le", mode: UC_MODE_LITTLE_ENDIAN.rawValue, lowFirst: true,
        trap: [0x0d, 0x00, 0x00, 0x00])  // break

    /// MIPS32 release 2, big endian, O32 ABI: register pairs hold the high word first.
    public static let mips32be = mips32(
        name: "mips32be", mode: UC_MODE_BIG_ENDIAN.rawValue, lowFirst: false,
        trap: [0x00, 0x00, 0x00, 0x0d])  // break

    /// MIPS32 Release 6 (Unicorn's mips32r6-generic), either byte order, O32
    /// ABI: the mips32le/mips32be row with the Release 6 CPU model.
    public static func mips32r6(bigEndian: Bool) -> EmulatedArchitecture {
        var row = bigEndian ? mips32be : mips32le
        row.name += "r6"
        row.cpu.model = Int32(UC_CPU_MIPS32_MIPS32R6_GENERIC.rawValue)
        return row
    }

    /// RV64GC (Unicorn's default RISC-V 64 model), LP64 ABI, in machine mode
    /// with no translation: addresses are physical, as identity mapping needs.
    public static let riscv64 = EmulatedArchitecture(
        name: "riscv64",
        cpu: UnicornCPU(architecture: UC_ARCH_RISCV.rawValue, mode: UC_MODE_RISCV64.rawValue),
        wordSize: 8, byteOrder: .little,
        arguments: (10...14).map { .register(riscvX($0)) },
        result: .register(riscvX(10)),
        stackPointer: riscvX(2), stackAlignment: 16,
        linkRegister: riscvX(1), returnAddressOffset: 4,
        programCounter: register("pc", UC_RISCV_REG_PC),
        callerSaved: [1, 5, 6, 7, 10, 11, 12, 13, 14, 15, 16, 17, 28, 29, 30, 31].map(riscvX),
        calleeSaved: ([8, 9] + Array(18...27)).map(riscvX),
        trap: [0x73, 0x00, 0x10, 0x00]  // ebreak
    )

    /// The riscv64 row on a machine that performs the Zba and/or Zbb
    /// instructions Unicorn's core lacks (`SoftInstructions`); the plain
    /// row when neither is asked for.
    public static func riscv64(zba: Bool, zbb: Bool) -> EmulatedArchitecture {
        var row = riscv64
        if zba || zbb { row.softInstructions = .riscvBitManipulation(zba: zba, zbb: zbb) }
        return row
    }

    /// Every built-in target, by name.
    public static let all: [EmulatedArchitecture] = [.arm64, .arm32, .mips32le, .mips32be, .riscv64]

    public static func named(_ name: String) -> EmulatedArchitecture? {
        all.first { $0.name == name }
    }

    private static func mips32(name: String, mode: UInt32, lowFirst: Bool, trap: [UInt8]) -> EmulatedArchitecture {
        func pair(_ first: Int, _ second: Int) -> (low: EmulatedRegister, high: EmulatedRegister) {
            lowFirst ? (mipsR(first), mipsR(second)) : (mipsR(second), mipsR(first))
        }
        let (a0, a1) = pair(4, 5), (a2, a3) = pair(6, 7), (v0, v1) = pair(2, 3)
        return EmulatedArchitecture(
            name: name,
            cpu: UnicornCPU(architecture: UC_ARCH_MIPS.rawValue, mode: UC_MODE_MIPS32.rawValue | mode),
            wordSize: 4, byteOrder: lowFirst ? .little : .big,
            arguments: [.registerPair(low: a0, high: a1), .registerPair(low: a2, high: a3),
                        .stack(offset: 16), .stack(offset: 24), .stack(offset: 32)],
            result: .registerPair(low: v0, high: v1),
            stackPointer: mipsR(29), stackAlignment: 8,
            linkRegister: mipsR(31), returnAddressOffset: 8,
            programCounter: register("pc", UC_MIPS_REG_PC),
            entryAddressRegister: mipsR(25),
            // at, v0–v1, a0–a3, t0–t7, t8–t9, ra.
            callerSaved: ([1, 2, 3, 4, 5, 6, 7] + Array(8...15) + [24, 25, 31]).map(mipsR),
            // s0–s7 and s8/fp.
            calleeSaved: (Array(16...23) + [30]).map(mipsR),
            trap: trap
        )
    }
}

// MARK: - Register numbering

private func register<ID: RawRepresentable>(_ name: String, _ id: ID) -> EmulatedRegister where ID.RawValue == UInt32 {
    EmulatedRegister(name, unicornID: Int32(id.rawValue))
}

/// x0–x30. Unicorn numbers x0–x28 consecutively but x29 and x30 elsewhere.
private func arm64X(_ n: Int) -> EmulatedRegister {
    switch n {
    case 29: register("x29", UC_ARM64_REG_X29)
    case 30: register("x30", UC_ARM64_REG_X30)
    default: EmulatedRegister("x\(n)", unicornID: Int32(UC_ARM64_REG_X0.rawValue) + Int32(n))
    }
}

private func armR(_ n: Int) -> EmulatedRegister {
    EmulatedRegister("r\(n)", unicornID: Int32(UC_ARM_REG_R0.rawValue) + Int32(n))
}

private let mipsNames = [
    "zero", "at", "v0", "v1", "a0", "a1", "a2", "a3", "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7",
    "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "t8", "t9", "k0", "k1", "gp", "sp", "fp", "ra",
]

private func mipsR(_ n: Int) -> EmulatedRegister {
    EmulatedRegister(mipsNames[n], unicornID: Int32(UC_MIPS_REG_0.rawValue) + Int32(n))
}

private let riscvNames = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
    "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
]

private func riscvX(_ n: Int) -> EmulatedRegister {
    EmulatedRegister(riscvNames[n], unicornID: Int32(UC_RISCV_REG_X0.rawValue) + Int32(n))
}
