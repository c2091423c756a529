/// The interpreter's own instruction form, produced once at prepare time.
///
/// Each `Instruction` slot becomes one 16-byte record whose `op` already
/// names the exact operation, width and operand form, so the dispatch loop
/// runs one `switch` per instruction and never re-examines an enum payload:
///
///     byte  0      1     2     3      4 ..< 8          8 ..< 16
///         +----+-----+-----+-----+--------------+------------------------+
///         | op | dst | src | pad | offset/target|  imm (pre-extended)    |
///         +----+-----+-----+-----+--------------+------------------------+
///
/// `offset` is the memory displacement of loads and stores; for jumps and
/// local calls the same field holds the absolute target slot. Immediates are
/// stored already extended as the operation needs them (sign-extended for
/// 64-bit operations, zero-extended 32-bit for 32-bit ones).
struct DecodedInstruction {
    var op: Op
    var dst: UInt8
    var src: UInt8
    var offset: Int32
    var imm: UInt64

    init(_ op: Op, dst: UInt8 = 0, src: UInt8 = 0, offset: Int32 = 0, imm: UInt64 = 0) {
        self.op = op
        self.dst = dst
        self.src = src
        self.offset = offset
        self.imm = imm
    }
}

/// Every operation the dispatch loop knows. Suffixes: `64`/`32` width,
/// `r` register operand, `i` immediate operand.
enum Op: UInt8 {
    // MARK: ALU64 and ALU (RFC 9669, section 4.1)
    case add64r, add64i, add32r, add32i
    case sub64r, sub64i, sub32r, sub32i
    case mul64r, mul64i, mul32r, mul32i
    case div64r, div64i, div32r, div32i
    case sdiv64r, sdiv64i, sdiv32r, sdiv32i
    case mod64r, mod64i, mod32r, mod32i
    case smod64r, smod64i, smod32r, smod32i
    case or64r, or64i, or32r, or32i
    case and64r, and64i, and32r, and32i
    case xor64r, xor64i, xor32r, xor32i
    case lsh64r, lsh64i, lsh32r, lsh32i
    case rsh64r, rsh64i, rsh32r, rsh32i
    case arsh64r, arsh64i, arsh32r, arsh32i
    case mov64r, mov64i, mov32r, mov32i
    case neg64, neg32
    case movsx64from8, movsx64from16, movsx64from32, movsx32from8, movsx32from16

    // MARK: Byte swaps, already resolved for the host's byte order (section 4.2)
    /// Keep the low 16 / 32 bits (a conversion to the host's own order).
    case truncate16, truncate32
    /// A 64-bit conversion to the host's own order: nothing to do.
    case nop
    /// Reverse the bytes of the low 16 / 32 / 64 bits, zero-extending.
    case swap16, swap32, swap64

    // MARK: Jumps (section 4.3); `offset` holds the absolute target slot
    case ja
    case jeq64r, jeq64i, jeq32r, jeq32i
    case jne64r, jne64i, jne32r, jne32i
    case jgt64r, jgt64i, jgt32r, jgt32i
    case jge64r, jge64i, jge32r, jge32i
    case jlt64r, jlt64i, jlt32r, jlt32i
    case jle64r, jle64i, jle32r, jle32i
    case jset64r, jset64i, jset32r, jset32i
    case jsgt64r, jsgt64i, jsgt32r, jsgt32i
    case jsge64r, jsge64i, jsge32r, jsge32i
    case jslt64r, jslt64i, jslt32r, jslt32i
    case jsle64r, jsle64i, jsle32r, jsle32i

    // MARK: Calls and exit
    /// A registered helper; `imm` indexes the prepared program's helper table.
    case callHelper
    /// A helper number nobody registered; `imm` is the number (fails when reached).
    case callUnknownHelper
    /// Call through a register: the helper whose number `dst` holds.
    case callRegister
    /// A local function at slot `offset`, in a new stack frame.
    case callLocal
    /// `bpf_tail_call` (helper 12 when the program arrays are known): the
    /// program in slot r3 of the array r2 replaces the current frame.
    case tailCall
    case exit

    // MARK: Loads and stores (section 5)
    /// `dst = imm` (64-bit immediate load of a plain value).
    case loadImmediate
    case ldxb, ldxh, ldxw, ldxdw
    case ldxsb, ldxsh, ldxsw
    case stb, sth, stw, stdw
    case stxb, stxh, stxw, stxdw

    // MARK: Atomics (section 5.3), performed atomically on host memory
    case atomicAdd64, atomicOr64, atomicAnd64, atomicXor64
    case atomicFetchAdd64, atomicFetchOr64, atomicFetchAnd64, atomicFetchXor64
    case atomicXchg64, atomicCmpxchg64
    case atomicAdd32, atomicOr32, atomicAnd32, atomicXor32
    case atomicFetchAdd32, atomicFetchOr32, atomicFetchAnd32, atomicFetchXor32
    case atomicXchg32, atomicCmpxchg32

    // MARK: Superinstructions (`Predecoder.fuse`), two or three slots
    /// `rd = rs + r[imm]` (`mov64 rd, rs; add64 rd, rt`).
    case movAdd64r
    /// `rd = rs + imm` (`mov64 rd, rs; add64 rd, imm`).
    case movAdd64i
    /// `rd += low32(imm); if rd != high32(imm) goto offset` (both sign-extended).
    case addJne64i
    /// `rd = rs + low32(imm); if rd > r[high32(imm)] goto offset` (`mov64 rd, rs;
    /// add64 rd, imm; jgt64 rd, rt`: a packet bounds check), three slots.
    case movAddJgt64r

    // MARK: Never executed successfully
    /// Something this engine cannot run (kfunc calls, unresolved 64-bit
    /// immediate kinds); `imm` indexes the prepared program's messages.
    case unsupported
    /// The second slot of a 64-bit immediate load; validation keeps control out of it.
    case tail
}
