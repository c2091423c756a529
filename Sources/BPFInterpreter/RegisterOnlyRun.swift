import BPFRuntime

/// The entry for programs that touch nothing but their registers.
///
/// A program whose every instruction only computes on registers, jumps or
/// exits — no load, store or atomic, no call of any kind, no `r10`, nothing
/// unsupported — has no memory access to check, no stack to lay out or
/// clear, no frame to save and no helper to bracket. Such a program needs
/// none of the machine a general run builds (`Machine`: the memory checks'
/// bounds, the run's block, the saved frames): `runRegistersOnly` gives it
/// sixteen zeroed register slots on the thread's stack, r1 and r2, and a
/// loop that knows only those instructions, with the same instruction
/// budget. Results and errors are those of the general path: the loop's
/// cases are the general loop's, and the only error such a program can
/// meet there, the instruction limit, stops it at the same slot.
///
/// The class is decided from the decoded instructions alone, when the
/// program is prepared (`registersOnly`): it needs no proof, since nothing
/// is left unchecked — there is no access to check. `r10` (the frame
/// pointer) is excluded because this entry has no stack for it to point
/// to; a program reading it goes the general way.
extension InterpretedProgram {
    /// Whether every instruction of `code` is one `executeRegistersOnly` runs.
    static func runsOnRegistersOnly(_ code: some Collection<DecodedInstruction>) -> Bool {
        code.allSatisfy { insn in
            // Register numbers are 4 bits; r10 is the frame pointer.
            guard insn.dst < 10, insn.src < 10 else { return false }
            switch insn.op {
            case .add64r, .add64i, .add32r, .add32i, .sub64r, .sub64i, .sub32r, .sub32i,
                 .mul64r, .mul64i, .mul32r, .mul32i, .div64r, .div64i, .div32r, .div32i,
                 .sdiv64r, .sdiv64i, .sdiv32r, .sdiv32i, .mod64r, .mod64i, .mod32r, .mod32i,
                 .smod64r, .smod64i, .smod32r, .smod32i, .or64r, .or64i, .or32r, .or32i,
                 .and64r, .and64i, .and32r, .and32i, .xor64r, .xor64i, .xor32r, .xor32i,
                 .lsh64r, .lsh64i, .lsh32r, .lsh32i, .rsh64r, .rsh64i, .rsh32r, .rsh32i,
                 .arsh64r, .arsh64i, .arsh32r, .arsh32i, .mov64r, .mov64i, .mov32r, .mov32i,
                 .neg64, .neg32, .movsx64from8, .movsx64from16, .movsx64from32, .movsx32from8, .movsx32from16,
                 .truncate16, .truncate32, .nop, .swap16, .swap32, .swap64,
                 .ja, .jeq64r, .jeq64i, .jeq32r, .jeq32i, .jne64r, .jne64i, .jne32r, .jne32i,
                 .jgt64r, .jgt64i, .jgt32r, .jgt32i, .jge64r, .jge64i, .jge32r, .jge32i,
                 .jlt64r, .jlt64i, .jlt32r, .jlt32i, .jle64r, .jle64i, .jle32r, .jle32i,
                 .jset64r, .jset64i, .jset32r, .jset32i, .jsgt64r, .jsgt64i, .jsgt32r, .jsgt32i,
                 .jsge64r, .jsge64i, .jsge32r, .jsge32i, .jslt64r, .jslt64i, .jslt32r, .jslt32i,
                 .jsle64r, .jsle64i, .jsle32r, .jsle32i,
                 .exit, .loadImmediate, .tail, .movAdd64i, .addJne64i:
                return true
            // The third register of these is in `imm` (it is also the
            // source of a later slot of the sequence, checked there too).
            case .movAdd64r: return insn.imm < 10
            case .movAddJgt64r: return insn.imm >> 32 < 10
            case .callHelper, .callUnknownHelper, .callRegister, .callLocal, .tailCall,
                 .ldxb, .ldxh, .ldxw, .ldxdw, .ldxsb, .ldxsh, .ldxsw,
                 .stb, .sth, .stw, .stdw, .stxb, .stxh, .stxw, .stxdw,
                 .atomicAdd64, .atomicOr64, .atomicAnd64, .atomicXor64,
                 .atomicFetchAdd64, .atomicFetchOr64, .atomicFetchAnd64, .atomicFetchXor64,
                 .atomicXchg64, .atomicCmpxchg64,
                 .atomicAdd32, .atomicOr32, .atomicAnd32, .atomicXor32,
                 .atomicFetchAdd32, .atomicFetchOr32, .atomicFetchAnd32, .atomicFetchXor32,
                 .atomicXchg32, .atomicCmpxchg32, .unsupported:
                return false
            }
        }
    }

    /// Runs a `registersOnly` program once with these r1 and r2 and returns r0.
    @inline(__always)
    func runRegistersOnly(r1: UInt64, r2: UInt64) throws(ExecutionError) -> UInt64 {
        let code = UnsafePointer(code.baseAddress.unsafelyUnwrapped), limit = instructionLimit
        return try withUnsafeTemporaryAllocation(of: UInt64.self, capacity: RunLayout.registerSlots) {
            (slots) throws(ExecutionError) -> UInt64 in
            let r = slots.baseAddress.unsafelyUnwrapped
            r.initialize(repeating: 0, count: RunLayout.registerSlots)
            r[1] = r1
            r[2] = r2
            return try Self.executeRegistersOnly(code, registers: r, limit: limit)
        }
    }

    /// The dispatch loop of `Machine.execute` for the instructions
    /// `runsOnRegistersOnly` admits, case for case.
    static func executeRegistersOnly(_ code: UnsafePointer<DecodedInstruction>, registers r: UnsafeMutablePointer<UInt64>,
                                     limit: UInt64) throws(ExecutionError) -> UInt64 {
        typealias S = Semantics
        var budget = limit
        var ip = code
        var pc: Int { code.distance(to: ip) }

        while true {
            let insn = ip
            guard budget != 0 else { throw .instructionLimit(pc: pc, limit: limit) }
            budget &-= 1
            var d: Int { Int(insn.pointee.dst) }
            var s: Int { Int(insn.pointee.src) }
            var k: UInt64 { insn.pointee.imm }
            var target: UnsafePointer<DecodedInstruction> { code + Int(insn.pointee.offset) }

            switch insn.pointee.op {
            case .add64r: r[d] = r[d] &+ r[s]
            case .add64i: r[d] = r[d] &+ k
            case .add32r: r[d] = UInt64(S.low(r[d]) &+ S.low(r[s]))
            case .add32i: r[d] = UInt64(S.low(r[d]) &+ S.low(k))
            case .sub64r: r[d] = r[d] &- r[s]
            case .sub64i: r[d] = r[d] &- k
            case .sub32r: r[d] = UInt64(S.low(r[d]) &- S.low(r[s]))
            case .sub32i: r[d] = UInt64(S.low(r[d]) &- S.low(k))
            case .mul64r: r[d] = r[d] &* r[s]
            case .mul64i: r[d] = r[d] &* k
            case .mul32r: r[d] = UInt64(S.low(r[d]) &* S.low(r[s]))
            case .mul32i: r[d] = UInt64(S.low(r[d]) &* S.low(k))
            case .div64r: r[d] = S.div64(r[d], r[s])
            case .div64i: r[d] = S.div64(r[d], k)
            case .div32r: r[d] = S.div32(r[d], r[s])
            case .div32i: r[d] = S.div32(r[d], k)
            case .sdiv64r: r[d] = S.sdiv64(r[d], r[s])
            case .sdiv64i: r[d] = S.sdiv64(r[d], k)
            case .sdiv32r: r[d] = S.sdiv32(r[d], r[s])
            case .sdiv32i: r[d] = S.sdiv32(r[d], k)
            case .mod64r: r[d] = S.mod64(r[d], r[s])
            case .mod64i: r[d] = S.mod64(r[d], k)
            case .mod32r: r[d] = S.mod32(r[d], r[s])
            case .mod32i: r[d] = S.mod32(r[d], k)
            case .smod64r: r[d] = S.smod64(r[d], r[s])
            case .smod64i: r[d] = S.smod64(r[d], k)
            case .smod32r: r[d] = S.smod32(r[d], r[s])
            case .smod32i: r[d] = S.smod32(r[d], k)
            case .or64r: r[d] = r[d] | r[s]
            case .or64i: r[d] = r[d] | k
            case .or32r: r[d] = UInt64(S.low(r[d]) | S.low(r[s]))
            case .or32i: r[d] = UInt64(S.low(r[d]) | S.low(k))
            case .and64r: r[d] = r[d] & r[s]
            case .and64i: r[d] = r[d] & k
            case .and32r: r[d] = UInt64(S.low(r[d]) & S.low(r[s]))
            case .and32i: r[d] = UInt64(S.low(r[d]) & S.low(k))
            case .xor64r: r[d] = r[d] ^ r[s]
            case .xor64i: r[d] = r[d] ^ k
            case .xor32r: r[d] = UInt64(S.low(r[d]) ^ S.low(r[s]))
            case .xor32i: r[d] = UInt64(S.low(r[d]) ^ S.low(k))
            case .lsh64r: r[d] = S.lsh64(r[d], r[s])
            case .lsh64i: r[d] = S.lsh64(r[d], k)
            case .lsh32r: r[d] = S.lsh32(r[d], r[s])
            case .lsh32i: r[d] = S.lsh32(r[d], k)
            case .rsh64r: r[d] = S.rsh64(r[d], r[s])
            case .rsh64i: r[d] = S.rsh64(r[d], k)
            case .rsh32r: r[d] = S.rsh32(r[d], r[s])
            case .rsh32i: r[d] = S.rsh32(r[d], k)
            case .arsh64r: r[d] = S.arsh64(r[d], r[s])
            case .arsh64i: r[d] = S.arsh64(r[d], k)
            case .arsh32r: r[d] = S.arsh32(r[d], r[s])
            case .arsh32i: r[d] = S.arsh32(r[d], k)
            case .mov64r: r[d] = r[s]
            case .mov64i: r[d] = k
            case .mov32r: r[d] = UInt64(S.low(r[s]))
            case .mov32i: r[d] = k
            case .neg64: r[d] = 0 &- r[d]
            case .neg32: r[d] = UInt64(0 &- S.low(r[d]))
            case .movsx64from8: r[d] = S.extend64(Int8.self, r[s])
            case .movsx64from16: r[d] = S.extend64(Int16.self, r[s])
            case .movsx64from32: r[d] = S.extend64(Int32.self, r[s])
            case .movsx32from8: r[d] = S.extend32(Int8.self, r[s])
            case .movsx32from16: r[d] = S.extend32(Int16.self, r[s])

            case .truncate16: r[d] = r[d] & 0xffff
            case .truncate32: r[d] = r[d] & 0xffff_ffff
            case .nop: break
            case .swap16: r[d] = UInt64(UInt16(truncatingIfNeeded: r[d]).byteSwapped)
            case .swap32: r[d] = UInt64(UInt32(truncatingIfNeeded: r[d]).byteSwapped)
            case .swap64: r[d] = r[d].byteSwapped

            case .ja: ip = target; continue
            case .jeq64r: if r[d] == r[s] { ip = target; continue }
            case .jeq64i: if r[d] == k { ip = target; continue }
            case .jeq32r: if S.low(r[d]) == S.low(r[s]) { ip = target; continue }
            case .jeq32i: if S.low(r[d]) == S.low(k) { ip = target; continue }
            case .jne64r: if r[d] != r[s] { ip = target; continue }
            case .jne64i: if r[d] != k { ip = target; continue }
            case .jne32r: if S.low(r[d]) != S.low(r[s]) { ip = target; continue }
            case .jne32i: if S.low(r[d]) != S.low(k) { ip = target; continue }
            case .jgt64r: if r[d] > r[s] { ip = target; continue }
            case .jgt64i: if r[d] > k { ip = target; continue }
            case .jgt32r: if S.low(r[d]) > S.low(r[s]) { ip = target; continue }
            case .jgt32i: if S.low(r[d]) > S.low(k) { ip = target; continue }
            case .jge64r: if r[d] >= r[s] { ip = target; continue }
            case .jge64i: if r[d] >= k { ip = target; continue }
            case .jge32r: if S.low(r[d]) >= S.low(r[s]) { ip = target; continue }
            case .jge32i: if S.low(r[d]) >= S.low(k) { ip = target; continue }
            case .jlt64r: if r[d] < r[s] { ip = target; continue }
            case .jlt64i: if r[d] < k { ip = target; continue }
            case .jlt32r: if S.low(r[d]) < S.low(r[s]) { ip = target; continue }
            case .jlt32i: if S.low(r[d]) < S.low(k) { ip = target; continue }
            case .jle64r: if r[d] <= r[s] { ip = target; continue }
            case .jle64i: if r[d] <= k { ip = target; continue }
            case .jle32r: if S.low(r[d]) <= S.low(r[s]) { ip = target; continue }
            case .jle32i: if S.low(r[d]) <= S.low(k) { ip = target; continue }
            case .jset64r: if r[d] & r[s] != 0 { ip = target; continue }
            case .jset64i: if r[d] & k != 0 { ip = target; continue }
            case .jset32r: if S.low(r[d]) & S.low(r[s]) != 0 { ip = target; continue }
            case .jset32i: if S.low(r[d]) & S.low(k) != 0 { ip = target; continue }
            case .jsgt64r: if S.signed(r[d]) > S.signed(r[s]) { ip = target; continue }
            case .jsgt64i: if S.signed(r[d]) > S.signed(k) { ip = target; continue }
            case .jsgt32r: if S.signedLow(r[d]) > S.signedLow(r[s]) { ip = target; continue }
            case .jsgt32i: if S.signedLow(r[d]) > S.signedLow(k) { ip = target; continue }
            case .jsge64r: if S.signed(r[d]) >= S.signed(r[s]) { ip = target; continue }
            case .jsge64i: if S.signed(r[d]) >= S.signed(k) { ip = target; continue }
            case .jsge32r: if S.signedLow(r[d]) >= S.signedLow(r[s]) { ip = target; continue }
            case .jsge32i: if S.signedLow(r[d]) >= S.signedLow(k) { ip = target; continue }
            case .jslt64r: if S.signed(r[d]) < S.signed(r[s]) { ip = target; continue }
            case .jslt64i: if S.signed(r[d]) < S.signed(k) { ip = target; continue }
            case .jslt32r: if S.signedLow(r[d]) < S.signedLow(r[s]) { ip = target; continue }
            case .jslt32i: if S.signedLow(r[d]) < S.signedLow(k) { ip = target; continue }
            case .jsle64r: if S.signed(r[d]) <= S.signed(r[s]) { ip = target; continue }
            case .jsle64i: if S.signed(r[d]) <= S.signed(k) { ip = target; continue }
            case .jsle32r: if S.signedLow(r[d]) <= S.signedLow(r[s]) { ip = target; continue }
            case .jsle32i: if S.signedLow(r[d]) <= S.signedLow(k) { ip = target; continue }

            // No local calls: every exit is the entry function's.
            case .exit: return r[0]
            case .loadImmediate: r[d] = k; ip += 2; continue

            case .movAdd64r:
                guard budget != 0 else { r[d] = r[s]; throw .instructionLimit(pc: pc + 1, limit: limit) }
                budget &-= 1
                r[d] = r[s] &+ r[Int(truncatingIfNeeded: k)]
                ip += 2
                continue
            case .movAdd64i:
                guard budget != 0 else { r[d] = r[s]; throw .instructionLimit(pc: pc + 1, limit: limit) }
                budget &-= 1
                r[d] = r[s] &+ k
                ip += 2
                continue
            case .addJne64i:
                let sum = r[d] &+ UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: k)))
                r[d] = sum
                guard budget != 0 else { throw .instructionLimit(pc: pc + 1, limit: limit) }
                budget &-= 1
                if sum != UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: k >> 32))) { ip = target; continue }
                ip += 2
                continue
            case .movAddJgt64r:
                let sum = r[s] &+ UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: k)))
                guard budget >= 2 else {
                    r[d] = budget == 0 ? r[s] : sum
                    throw .instructionLimit(pc: pc + 1 + Int(budget), limit: limit)
                }
                budget &-= 2
                r[d] = sum
                if sum > r[Int(truncatingIfNeeded: k >> 32)] { ip = target; continue }
                ip += 3
                continue

            case .tail: throw .invalidProgramCounter(pc: pc)

            // Never admitted (`runsOnRegistersOnly`).
            case .callHelper, .callUnknownHelper, .callRegister, .callLocal, .tailCall,
                 .ldxb, .ldxh, .ldxw, .ldxdw, .ldxsb, .ldxsh, .ldxsw,
                 .stb, .sth, .stw, .stdw, .stxb, .stxh, .stxw, .stxdw,
                 .atomicAdd64, .atomicOr64, .atomicAnd64, .atomicXor64,
                 .atomicFetchAdd64, .atomicFetchOr64, .atomicFetchAnd64, .atomicFetchXor64,
                 .atomicXchg64, .atomicCmpxchg64,
                 .atomicAdd32, .atomicOr32, .atomicAnd32, .atomicXor32,
                 .atomicFetchAdd32, .atomicFetchOr32, .atomicFetchAnd32, .atomicFetchXor32,
                 .atomicXchg32, .atomicCmpxchg32, .unsupported:
                preconditionFailure("an instruction outside the register-only class at slot \(pc)")
            }
            ip += 1
        }
    }
}
