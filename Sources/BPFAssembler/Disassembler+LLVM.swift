import BPFISA

/// The LLVM style: the text of LLVM's BPF instruction printer as
/// `llvm-objdump -d --mcpu=v4` shows it (checked against LLVM 21 in
/// `LLVMDisassemblyTests`).
///
/// LLVM prints every immediate and offset in signed hexadecimal (`-0x7`,
/// `+0x3`), names the 32-bit view of a register `wN`, and with cpu v4 (which
/// implies alu32) prints the zero-extending 1-, 2- and 4-byte loads and the
/// register stores of those sizes with `w` registers.
extension Disassembler {
    static func llvmText(of instruction: Instruction) -> String {
        switch instruction {
        case .alu(let width, let op, let dst, let src):
            return "\(llvmReg(dst, width)) \(llvmAssign(op)) \(llvmOperand(src, width))"
        case .neg(let width, let dst):
            return "\(llvmReg(dst, width)) = -\(llvmReg(dst, width))"
        case .movsx(let width, let dst, let src, let bits):
            return "\(llvmReg(dst, width)) = (s\(bits))\(llvmReg(src, width))"
        case .byteSwap(let kind, let dst, let bits):
            let name = switch kind {
            case .toLittleEndian: "le"
            case .toBigEndian: "be"
            case .swap: "bswap"
            }
            return "\(dst) = \(name)\(bits) \(dst)"
        case .jump(let offset):
            return "goto \(llvmOffset(Int64(offset)))"
        case .jumpLong(let offset):
            return "gotol \(llvmOffset(Int64(offset)))"
        case .branch(let width, let condition, let dst, let src, let offset):
            return "if \(llvmReg(dst, width)) \(llvmCompare(condition)) \(llvmOperand(src, width)) goto \(llvmOffset(Int64(offset)))"
        case .call(.helper(let imm)), .call(.local(let imm)), .call(.kfunc(let imm)):
            // LLVM prints the imm of every call kind alike.
            return "call \(llvmHex(Int64(imm)))"
        case .call(.register(let r)):
            return "callx \(r)"
        case .exit:
            return "exit"
        case .loadImmediate64(let dst, .value(let v)):
            return "\(dst) = \(llvmHex(Int64(bitPattern: v))) ll"
        case .loadImmediate64(let dst, let pseudo):
            // LLVM shows the pseudo kind and the first imm only.
            let imm = Instruction.loadImmediate64(dst: dst, pseudo).encoded[0].imm
            return "ld_pseudo \(dst), \(llvmHex(Int64(pseudo.sourceField))), \(llvmHex(Int64(imm)))"
        case .immediate64Tail:
            return ""
        case .load(let size, let dst, let src, let offset):
            let width: Width = size == .double ? .w64 : .w32
            return "\(llvmReg(dst, width)) = *(u\(size.bytes * 8) *)\(llvmAddress(src, offset))"
        case .loadSignExtend(let size, let dst, let src, let offset):
            return "\(dst) = *(s\(size.bytes * 8) *)\(llvmAddress(src, offset))"
        case .storeImmediate(let size, let dst, let offset, let imm):
            return "*(u\(size.bytes * 8) *)\(llvmAddress(dst, offset)) = \(llvmHex(Int64(imm)))"
        case .store(let size, let dst, let offset, let src):
            return "*(u\(size.bytes * 8) *)\(llvmAddress(dst, offset)) = \(llvmReg(src, size == .double ? .w64 : .w32))"
        case .atomic(let width, let op, let dst, let offset, let src):
            return llvmAtomic(width, op, dst: dst, offset: offset, src: src)
        }
    }

    static func llvmAtomic(_ width: Width, _ op: AtomicOperation, dst: Register, offset: Int16, src: Register) -> String {
        let bits = width.bits
        let s = llvmReg(src, width)
        let address = llvmAddress(dst, offset)
        switch op {
        case .add(false), .or(false), .and(false), .xor(false):
            let symbol = switch op {
            case .add: "+="
            case .or: "|="
            case .and: "&="
            default: "^="
            }
            return "lock *(u\(bits) *)\(address) \(symbol) \(s)"
        case .add(true), .or(true), .and(true), .xor(true):
            let name = switch op {
            case .add: "add"
            case .or: "or"
            case .and: "and"
            default: "xor"
            }
            return "\(s) = atomic_fetch_\(name)((u\(bits) *)\(address), \(s))"
        case .xchg:
            let name = width == .w64 ? "xchg_64" : "xchg32_32"
            return "\(s) = \(name)(\(dst) \(llvmSignedOffset(offset)), \(s))"
        case .cmpxchg:
            let name = width == .w64 ? "cmpxchg_64" : "cmpxchg32_32"
            let r0 = llvmReg(.r0, width)
            return "\(r0) = \(name)(\(dst) \(llvmSignedOffset(offset)), \(r0), \(s))"
        }
    }

    static func llvmReg(_ r: Register, _ width: Width) -> String {
        (width == .w64 ? "r" : "w") + String(r.rawValue)
    }

    static func llvmOperand(_ o: Operand, _ width: Width) -> String {
        switch o {
        case .register(let r): llvmReg(r, width)
        case .immediate(let imm): llvmHex(Int64(imm))
        }
    }

    static func llvmAssign(_ op: ALUOperation) -> String {
        switch op {
        case .add: "+="
        case .sub: "-="
        case .mul: "*="
        case .div: "/="
        case .sdiv: "s/="
        case .or: "|="
        case .and: "&="
        case .lsh: "<<="
        case .rsh: ">>="
        case .mod: "%="
        case .smod: "s%="
        case .xor: "^="
        case .mov: "="
        case .arsh: "s>>="
        }
    }

    static func llvmCompare(_ condition: JumpCondition) -> String {
        switch condition {
        case .eq: "=="
        case .ne: "!="
        case .gt: ">"
        case .ge: ">="
        case .lt: "<"
        case .le: "<="
        case .set: "&"
        case .sgt: "s>"
        case .sge: "s>="
        case .slt: "s<"
        case .sle: "s<="
        }
    }

    /// Signed hexadecimal, `-0x` for negative values (`Int64.min` included).
    static func llvmHex(_ value: Int64) -> String {
        value < 0 ? "-0x" + String(value.magnitude, radix: 16) : "0x" + String(value, radix: 16)
    }

    /// Jump offsets always carry their sign: `+0x0`, `-0x2`.
    static func llvmOffset(_ value: Int64) -> String {
        value < 0 ? llvmHex(value) : "+" + llvmHex(value)
    }

    /// `+ 0x8` / `- 0x8`, spaced as LLVM spaces memory offsets.
    static func llvmSignedOffset(_ offset: Int16) -> String {
        offset < 0 ? "- 0x" + String(offset.magnitude, radix: 16) : "+ 0x" + String(offset, radix: 16)
    }

    static func llvmAddress(_ base: Register, _ offset: Int16) -> String {
        "(\(base) \(llvmSignedOffset(offset)))"
    }
}
