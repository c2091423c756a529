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

    public init(_ architecture: JITArchitecture) throws(DisassemblerError) {
        let (arch, mode): (cs_arch, cs_mode) = switch architecture {
        case .x86_64: (CS_ARCH_X86, CS_MODE_64)
        case .arm64: (CS_ARCH_ARM64, CS_MODE_LITTLE_ENDIAN)
        case .arm32: (CS_ARCH_ARM, CS_MODE_ARM)
        case .mips32le: (CS_ARCH_MIPS, cs_mode(CS_MODE_MIPS32.rawValue | CS_MODE_LITTLE_ENDIAN.rawValue))
        case .mips32be: (CS_ARCH_MIPS, cs_mode(CS_MODE_MIPS32.rawValue | CS_MODE_BIG_ENDIAN.rawValue))
        case .riscv64: throw DisassemblerError(message: "this Capstone has no RISC-V support")
        }
        let status = cs_open(arch, mode, &handle)
        guard status == CS_ERR_OK else {
            throw DisassemblerError(message: "cs_open failed: \(String(cString: cs_strerror(status)))")
        }
    }

    deinit { cs_close(&handle) }

    /// Decodes `bytes` as if loaded at `address`; offsets are relative to the
    /// start of `bytes` plus `baseOffset`. Undecodable bytes become `.byte` lines.
    public func disassemble(_ bytes: [UInt8], address: UInt64, baseOffset: Int = 0) -> [NativeInstruction] {
        var result: [NativeInstruction] = []
        var position = 0
        while position < bytes.count {
            var insn: UnsafeMutablePointer<cs_insn>?
            let decoded = bytes[position...].withUnsafeBufferPointer { buffer in
                cs_disasm(handle, buffer.baseAddress, buffer.count, address + UInt64(position), 0, &insn)
            }
            guard decoded > 0, let insn else {
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
