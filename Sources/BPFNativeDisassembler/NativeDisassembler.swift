import BPFJIT
import CCapstone

/// One native instruction as Capstone decodes it.
public struct NativeInstruction: Sendable, Hashable {
    /// Offset in the image.
    public let offset: Int
    public let bytes: [UInt8]
    /// Mnemonic and operands, Intel syntax.
    public let text: String
}

/// Why native code could not be disassembled.
public struct DisassemblerError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Capstone (libcapstone) behind a small Swift type: the one place that
/// holds a Capstone handle. Not thread-safe; make one per thread.
public final class NativeDisassembler {
    private var handle: csh = 0
    private let architecture: JITArchitecture

    public init(_ architecture: JITArchitecture) throws(DisassemblerError) {
        self.architecture = architecture
        // Debian's Capstone has no RISC-V: `RISCVDecoder` decodes it.
        if architecture == .riscv64 { return }
        let (arch, mode): (cs_arch, cs_mode) = switch architecture {
        case .x86_64: (CS_ARCH_X86, CS_MODE_64)
        case .arm64: (CS_ARCH_ARM64, CS_MODE_LITTLE_ENDIAN)
        case .arm32: (CS_ARCH_ARM, CS_MODE_ARM)
        case .mips32le: (CS_ARCH_MIPS, cs_mode(CS_MODE_MIPS32.rawValue | CS_MODE_LITTLE_ENDIAN.rawValue))
        case .mips32be: (CS_ARCH_MIPS, cs_mode(CS_MODE_MIPS32.rawValue | CS_MODE_BIG_ENDIAN.rawValue))
        case .riscv64: (CS_ARCH_ALL, CS_MODE_LITTLE_ENDIAN)   // not reached (above)
        }
        let status = cs_open(arch, mode, &handle)
        guard status == CS_ERR_OK else {
            throw DisassemblerError(message: "cs_open failed: \(String(cString: cs_strerror(status)))")
        }
    }

    deinit { if handle != 0 { cs_close(&handle) } }

    /// Decodes `bytes` as if loaded at `address`; offsets are relative to the
    /// start of `bytes` plus `baseOffset`. Undecodable bytes become `.byte` lines.
    public func disassemble(_ bytes: [UInt8], address: UInt64, baseOffset: Int = 0) -> [NativeInstruction] {
        if architecture == .riscv64 { return RISCVDecoder.disassemble(bytes, address: address, baseOffset: baseOffset) }
        var result: [NativeInstruction] = []
        var position = 0
        while position < bytes.count {
            var insn: UnsafeMutablePointer<cs_insn>?
            let decoded = bytes[position...].withUnsafeBufferPointer { buffer in
                cs_disasm(handle, buffer.baseAddress, buffer.count, address + UInt64(position), 0, &insn)
            }
            guard decoded > 0, let insn else {
                // Fixed-width code goes on a word at a time, named by the fallback if it can.
                if let width = wordSize, position + width <= bytes.count {
                    let word = bytes[position..<position + width].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                    let text = architecture == .arm64 ? Arm64Fallback.text(word) : nil
                    result.append(NativeInstruction(offset: baseOffset + position, bytes: Array(bytes[position..<position + width]),
                                                    text: text ?? ".inst 0x" + String(word, radix: 16)))
                    position += width
                    continue
                }
                result.append(NativeInstruction(offset: baseOffset + position, bytes: [bytes[position]],
                                                text: ".byte 0x" + String(bytes[position], radix: 16)))
                position += 1
                continue
            }
            for i in 0..<decoded {
                let one = insn[i]
                let size = Int(one.size)
                let mnemonic = withUnsafeBytes(of: one.mnemonic) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                let operands = withUnsafeBytes(of: one.op_str) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                let start = Int(one.address - address)
                result.append(NativeInstruction(offset: baseOffset + start, bytes: Array(bytes[start..<start + size]),
                                                text: operands.isEmpty ? mnemonic : mnemonic + " " + operands))
                position = start + size
            }
            cs_free(insn, decoded)
        }
        return result
    }
}

extension NativeDisassembler {
    /// Bytes per instruction on fixed-width, little-endian targets (nil: variable or big-endian).
    private var wordSize: Int? {
        switch architecture {
        case .arm64, .arm32, .mips32le, .riscv64: 4
        case .x86_64, .mips32be: nil
        }
    }
}

/// The AArch64 instructions Capstone 4 predates: the ARMv8.1 LSE atomics
/// (LD<op>, SWP, CAS), which the arm64 backend emits. Arm ARM C6.2 "LDADD",
/// "SWP", "CAS"; mnemonics as llvm-mc prints them.
enum Arm64Fallback {
    static func text(_ word: UInt32) -> String? {
        let size = word >> 30, rs = (word >> 16) & 31, rn = (word >> 5) & 31, rt = word & 31
        func register(_ n: UInt32) -> String {
            let wide = size == 3
            return n == 31 ? (wide ? "xzr" : "wzr") : (wide ? "x" : "w") + String(n)
        }
        let base = rn == 31 ? "sp" : "x\(rn)"
        let suffix = ["b", "h", "", ""][Int(size)]
        if word & 0x3f20_0c00 == 0x3820_0000 {
            // LD<op>/SWP: |size|111|0|00|A|R|1|Rs|o3|opc|00|Rn|Rt|
            let ordering = ["", "l", "a", "al"][Int((word >> 22) & 3)]
            let o3 = (word >> 15) & 1, opc = (word >> 12) & 7
            let operation: String
            if o3 == 1 {
                guard opc == 0 else { return nil }
                operation = "swp"
            } else {
                operation = ["ldadd", "ldclr", "ldeor", "ldset", "ldsmax", "ldsmin", "ldumax", "ldumin"][Int(opc)]
            }
            return "\(operation)\(ordering)\(suffix) \(register(rs)), \(register(rt)), [\(base)]"
        }
        if word & 0x3fa0_7c00 == 0x08a0_7c00 {
            // CAS: |size|001000|1|L|1|Rs|o0|11111|Rn|Rt|
            let ordering = ["", "l", "a", "al"][Int((word >> 22) & 1) << 1 | Int((word >> 15) & 1)]
            return "cas\(ordering)\(suffix) \(register(rs)), \(register(rt)), [\(base)]"
        }
        return nil
    }
}
