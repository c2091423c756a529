import BPFRuntime

/// The dispatch loop: one `switch` per executed instruction.
///
/// Kept lean on purpose (the interpreter has a speed goal): registers are a raw buffer, instructions
/// a raw pointer into the pre-decoded array, memory checks inline for the
/// stack and the first input region, and nothing in the loop allocates,
/// retains or goes through an existential. Rare paths (helper calls, errors)
/// are out of line.
extension Machine {
    func execute(_ code: UnsafePointer<DecodedInstruction>, state: inout RunState) throws(ExecutionError) -> InterpretedProgram.Outcome {
        typealias S = Semantics
        let r = registers
        let memory = memory
        let limit = state.limit
        let frameBytes = UInt64(layout.frameBytes)
        var budget = state.budget
        var depth = 0
        var helperAccess: MemoryAccess? = nil
        var ip = code
        /// The slot being run, for errors and return addresses.
        var pc: Int { code.distance(to: ip) }

        while true {
            let insn = ip
            guard budget != 0 else { throw .instructionLimit(pc: pc, limit: limit) }
            budget &-= 1
            var d: Int { Int(insn.pointee.dst) }
            var s: Int { Int(insn.pointee.src) }
            var k: UInt64 { insn.pointee.imm }
            // Added to `src` (loads) or `dst` (stores, atomics) for the effective address.
            var displacement: UInt64 { UInt64(bitPattern: Int64(insn.pointee.offset)) }
            // Where a taken jump goes (`offset` holds the absolute slot).
            var target: UnsafePointer<DecodedInstruction> { code + Int(insn.pointee.offset) }

            switch insn.pointee.op {
            // MARK: ALU64 and ALU
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

            // MARK: Byte swaps
            case .truncate16: r[d] = r[d] & 0xffff
            case .truncate32: r[d] = r[d] & 0xffff_ffff
            case .nop: break
            case .swap16: r[d] = UInt64(UInt16(truncatingIfNeeded: r[d]).byteSwapped)
            case .swap32: r[d] = UInt64(UInt32(truncatingIfNeeded: r[d]).byteSwapped)
            case .swap64: r[d] = r[d].byteSwapped

            // MARK: Jumps
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

            // MARK: Calls and exit
            case .callHelper:
                r[0] = try callHelper(program.helpers[Int(k)], access: &helperAccess, pc: pc)
            case .callUnknownHelper:
                throw .unknownHelper(pc: pc, id: Int32(truncatingIfNeeded: k))
            case .callRegister:
                r[0] = try callHelper(helper(numbered: r[d], pc: pc), access: &helperAccess, pc: pc)
            case .callLocal:
                // A new frame: remember where to return and the caller's
                // callee-saved r6–r9, then give the callee its own 512 bytes.
                guard depth + 1 < layout.maxFrames else {
                    throw .callDepthExceeded(pc: pc, limit: layout.maxFrames)
                }
                let frame = frames + depth * RunLayout.frameWords
                frame[0] = UInt64(pc + 1)
                frame[1] = r[6]; frame[2] = r[7]; frame[3] = r[8]; frame[4] = r[9]
                depth += 1
                r[10] = stackTop - UInt64(depth) * frameBytes
                ip = target
                continue
            case .tailCall:
                state.budget = budget
                guard let target = try tailCallTarget(pc: pc, state: &state) else { break }
                // From the entry function: the target replaces this program.
                if depth == 0 { return .tailCall(target, r[1], r[2]) }
                // From a subprogram: the target replaces the subprogram's frame,
                // so its result goes to the subprogram's caller. It runs on a
                // fresh stack of its own (as on the JIT, and in the kernel,
                // where a target gets its own frames whatever the depth).
                r[0] = try target.run(r1: r[1], r2: r[2], regions: memory.regions.pointee, state: &state)
                budget = state.budget
                depth -= 1
                let frame = frames + depth * RunLayout.frameWords
                r[6] = frame[1]; r[7] = frame[2]; r[8] = frame[3]; r[9] = frame[4]
                r[10] = stackTop - UInt64(depth) * frameBytes
                ip = code + Int(frame[0])
                continue
            case .exit:
                if depth == 0 { return .returned(r[0]) }
                depth -= 1
                let frame = frames + depth * RunLayout.frameWords
                r[6] = frame[1]; r[7] = frame[2]; r[8] = frame[3]; r[9] = frame[4]
                r[10] = stackTop - UInt64(depth) * frameBytes
                ip = code + Int(frame[0])
                continue

            // MARK: Loads and stores
            case .loadImmediate: r[d] = k; ip += 2; continue
            case .ldxb: r[d] = UInt64(try memory.load(UInt8.self, at: r[s] &+ displacement, pc: pc))
            case .ldxh: r[d] = UInt64(try memory.load(UInt16.self, at: r[s] &+ displacement, pc: pc))
            case .ldxw: r[d] = UInt64(try memory.load(UInt32.self, at: r[s] &+ displacement, pc: pc))
            case .ldxdw: r[d] = try memory.load(UInt64.self, at: r[s] &+ displacement, pc: pc)
            case .ldxsb: r[d] = UInt64(bitPattern: Int64(try memory.load(Int8.self, at: r[s] &+ displacement, pc: pc)))
            case .ldxsh: r[d] = UInt64(bitPattern: Int64(try memory.load(Int16.self, at: r[s] &+ displacement, pc: pc)))
            case .ldxsw: r[d] = UInt64(bitPattern: Int64(try memory.load(Int32.self, at: r[s] &+ displacement, pc: pc)))
            case .stb: try memory.store(UInt8(truncatingIfNeeded: k), at: r[d] &+ displacement, pc: pc)
            case .sth: try memory.store(UInt16(truncatingIfNeeded: k), at: r[d] &+ displacement, pc: pc)
            case .stw: try memory.store(UInt32(truncatingIfNeeded: k), at: r[d] &+ displacement, pc: pc)
            case .stdw: try memory.store(k, at: r[d] &+ displacement, pc: pc)
            case .stxb: try memory.store(UInt8(truncatingIfNeeded: r[s]), at: r[d] &+ displacement, pc: pc)
            case .stxh: try memory.store(UInt16(truncatingIfNeeded: r[s]), at: r[d] &+ displacement, pc: pc)
            case .stxw: try memory.store(UInt32(truncatingIfNeeded: r[s]), at: r[d] &+ displacement, pc: pc)
            case .stxdw: try memory.store(r[s], at: r[d] &+ displacement, pc: pc)

            // MARK: Atomics
            case .atomicAdd64: _ = try memory.atomic64(.add, at: r[d] &+ displacement, operand: r[s], pc: pc)
            case .atomicOr64: _ = try memory.atomic64(.or, at: r[d] &+ displacement, operand: r[s], pc: pc)
            case .atomicAnd64: _ = try memory.atomic64(.and, at: r[d] &+ displacement, operand: r[s], pc: pc)
            case .atomicXor64: _ = try memory.atomic64(.xor, at: r[d] &+ displacement, operand: r[s], pc: pc)
            case .atomicFetchAdd64: r[s] = try memory.atomic64(.add, at: r[d] &+ displacement, operand: r[s], pc: pc)
            case .atomicFetchOr64: r[s] = try memory.atomic64(.or, at: r[d] &+ displacement, operand: r[s], pc: pc)
            case .atomicFetchAnd64: r[s] = try memory.atomic64(.and, at: r[d] &+ displacement, operand: r[s], pc: pc)
            case .atomicFetchXor64: r[s] = try memory.atomic64(.xor, at: r[d] &+ displacement, operand: r[s], pc: pc)
            case .atomicXchg64: r[s] = try memory.atomic64(.exchange, at: r[d] &+ displacement, operand: r[s], pc: pc)
            case .atomicCmpxchg64:
                r[0] = try memory.atomic64(.compareExchange, at: r[d] &+ displacement, operand: r[s], comparand: r[0], pc: pc)
            case .atomicAdd32: _ = try memory.atomic32(.add, at: r[d] &+ displacement, operand: r[s], pc: pc)
            case .atomicOr32: _ = try memory.atomic32(.or, at: r[d] &+ displacement, operand: r[s], pc: pc)
            case .atomicAnd32: _ = try memory.atomic32(.and, at: r[d] &+ displacement, operand: r[s], pc: pc)
            case .atomicXor32: _ = try memory.atomic32(.xor, at: r[d] &+ displacement, operand: r[s], pc: pc)
            case .atomicFetchAdd32: r[s] = try memory.atomic32(.add, at: r[d] &+ displacement, operand: r[s], pc: pc)
            case .atomicFetchOr32: r[s] = try memory.atomic32(.or, at: r[d] &+ displacement, operand: r[s], pc: pc)
            case .atomicFetchAnd32: r[s] = try memory.atomic32(.and, at: r[d] &+ displacement, operand: r[s], pc: pc)
            case .atomicFetchXor32: r[s] = try memory.atomic32(.xor, at: r[d] &+ displacement, operand: r[s], pc: pc)
            case .atomicXchg32: r[s] = try memory.atomic32(.exchange, at: r[d] &+ displacement, operand: r[s], pc: pc)
            case .atomicCmpxchg32:
                r[0] = try memory.atomic32(.compareExchange, at: r[d] &+ displacement, operand: r[s], comparand: r[0], pc: pc)

            // MARK: Superinstructions: the second instruction's budget, then both
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
                    // Out of budget after the mov (0 left) or after the add (1 left).
                    r[d] = budget == 0 ? r[s] : sum
                    throw .instructionLimit(pc: pc + 1 + Int(budget), limit: limit)
                }
                budget &-= 2
                r[d] = sum
                if sum > r[Int(truncatingIfNeeded: k >> 32)] { ip = target; continue }
                ip += 3
                continue

            // MARK: Never runs
            case .unsupported: throw .unsupported(pc: pc, what: program.unsupported[Int(k)])
            case .tail: throw .invalidProgramCounter(pc: pc)
            }
            ip += 1
        }
    }
}
