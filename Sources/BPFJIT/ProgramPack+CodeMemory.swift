import BPFExecMemory

/// The program pack is the JIT's executable memory: this adapter is the
/// whole switch from the core's `CodeMemory` contract to BPFExecMemory.
extension ProgramPack: CodeMemory {
    public func allocate(size: Int, alignment: Int) throws(CodeMemoryError) -> CodeAllocation {
        do throws(ExecMemoryError) {
            let slot: PackSlot = try allocate(size: size, alignment: alignment)
            return CodeAllocation(address: slot.address.rawValue, size: slot.size, token: slot)
        } catch {
            throw CodeMemoryError(error.description)
        }
    }

    public func copy(_ bytes: [UInt8], into allocation: CodeAllocation) throws(CodeMemoryError) {
        do throws(ExecMemoryError) {
            try copy(bytes, into: allocation.token as! PackSlot)
        } catch {
            throw CodeMemoryError(error.description)
        }
    }

    public func free(_ allocation: CodeAllocation) {
        free(allocation.token as! PackSlot)
    }

    public func patch(_ allocation: CodeAllocation, at offset: Int, bytes: [UInt8]) throws(CodeMemoryError) {
        do throws(ExecMemoryError) {
            try patch(allocation.token as! PackSlot, at: offset, bytes: bytes)
        } catch {
            throw CodeMemoryError(error.description)
        }
    }
}

extension ProgramPack {
    /// The process-wide pack for JITed code of the host architecture.
    public static let jit = ProgramPack(trap: .host)
}
