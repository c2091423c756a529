import BPFISA
import BPFMaps
import BPFRuntime
import BPFVerifier

/// The callback helpers (`bpf_loop`, `bpf_for_each_map_elem`) become
/// bytecode at load time, as the kernel inlines `bpf_loop`
/// (`inline_bpf_loop`): each call becomes a bpf-to-bpf call of a loop
/// function appended to the program, which calls the callback by a
/// bpf-to-bpf call once per iteration. Every engine then runs the loop as
/// ordinary code: no engine has to re-enter itself from a helper. A
/// `bpf_for_each_map_elem` loop gets each element from an internal helper
/// (`mapIterationHelper`) that copies the key into the loop's stack and
/// returns the value's address.
public enum CallbackInlining {
    /// The number of the internal helper that steps through a map's
    /// elements for `bpf_for_each_map_elem` loops: `(map, position,
    /// key buffer, buffer size)` → the value of the element at `position`
    /// (its key copied into the buffer), or 0 past the last one.
    public static let mapIterationHelperID: Int32 = 0x4250_0001

    static let loopHelper: Int32 = 181
    static let forEachHelper: Int32 = 164

    /// Replaces every call of a callback helper by a call of a loop
    /// function (appended) and returns the loops by their entry slot, for
    /// the verifier. The callback must be one function known at load
    /// (a `ld_imm64 src=4` reaching r2 on every path), as the kernel requires.
    public static func inline(_ program: Program) throws(LoadTimeError) -> (program: Program, loops: [Int: CallbackLoop]) {
        let instructions = program.instructions
        let sites = instructions.indices.filter {
            if case .call(.helper(let id)) = instructions[$0] { return id == loopHelper || id == forEachHelper }
            return false
        }
        guard !sites.isEmpty else { return (program, [:]) }
        let known = codeAddresses(program)
        var slots = instructions
        var drivers: [CallbackLoop: Int] = [:]
        var usedLoads = Set<Int>()
        for pc in sites {
            guard case .call(.helper(let id)) = instructions[pc] else { continue }
            let kind: CallbackLoop.Kind = id == loopHelper ? .loop : .forEachMapElement
            guard let (target, load) = known[pc] else {
                throw .unsupportedCall(pc: pc, what: "\(kind.helperName) with a callback (r2) that is not one function known at load")
            }
            usedLoads.formUnion(load)
            let loop = CallbackLoop(kind: kind, callback: target)
            let entry: Int
            if let existing = drivers[loop] {
                entry = existing
            } else {
                entry = slots.count
                drivers[loop] = entry
                slots += driver(loop, at: entry)
            }
            slots[pc] = .call(.local(offset: Int32(entry - pc - 1)))
        }
        for pc in usedLoads {
            guard case .loadImmediate64(let dst, .codeAddress) = slots[pc] else { continue }
            slots[pc] = .loadImmediate64(dst: dst, .value(0))
        }
        return (Program(slots, name: program.name), Dictionary(uniqueKeysWithValues: drivers.map { ($0.value, $0.key) }))
    }

    /// The loop function for `loop`, placed at slot `entry`. r1–r4 are the
    /// helper's arguments; r6–r9 (saved across calls by every engine) hold
    /// the loop's state.
    static func driver(_ loop: CallbackLoop, at entry: Int) -> [Instruction] {
        func mov(_ dst: Register, _ src: Register) -> Instruction { .alu(.w64, .mov, dst: dst, .register(src)) }
        func set(_ dst: Register, _ value: Int32) -> Instruction { .alu(.w64, .mov, dst: dst, .immediate(value)) }
        func add(_ dst: Register, _ value: Int32) -> Instruction { .alu(.w64, .add, dst: dst, .immediate(value)) }
        func callback(at pc: Int) -> Instruction { .call(.local(offset: Int32(loop.callback - (entry + pc) - 1))) }
        let einval: Int32 = -22, e2big: Int32 = -7
        switch loop.kind {
        case .loop:
            // bpf_loop(u32 nr_loops, callback, ctx, u64 flags), as kernel/bpf/bpf_iter.c runs it.
            return [
                /* 0 */ .branch(.w64, .ne, dst: .r4, .immediate(0), offset: 15),            // flags -> 16
                /* 1 */ .alu(.w32, .mov, dst: .r1, .register(.r1)),
                /* 2 */ .branch(.w64, .gt, dst: .r1, .immediate(Int32(CallbackLoop.maxLoops)), offset: 11),  // -> 14
                /* 3 */ mov(.r6, .r1),
                /* 4 */ set(.r7, 0),
                /* 5 */ mov(.r8, .r3),
                /* 6 */ .branch(.w64, .ge, dst: .r7, .register(.r6), offset: 5),           // -> 12
                /* 7 */ mov(.r1, .r7),
                /* 8 */ mov(.r2, .r8),
                /* 9 */ callback(at: 9),
                /* 10 */ add(.r7, 1),
                /* 11 */ .branch(.w64, .eq, dst: .r0, .immediate(0), offset: -6),        // -> 6
                /* 12 */ mov(.r0, .r7),
                /* 13 */ .exit,
                /* 14 */ .alu(.w32, .mov, dst: .r0, .immediate(e2big)),   // 32 bits, as the kernel's inlined loop returns it
                /* 15 */ .exit,
                /* 16 */ set(.r0, einval),
                /* 17 */ .exit,
            ]
        case .forEachMapElement:
            // bpf_for_each_map_elem(map, callback, ctx, u64 flags): callback(map, key, value, ctx)
            // for each element until it returns 1; the result is the number of elements visited.
            let area = Int32(CallbackLoop.keyArea)
            return [
                /* 0 */ .branch(.w64, .ne, dst: .r4, .immediate(0), offset: 22),            // flags -> 23
                /* 1 */ mov(.r6, .r1),
                /* 2 */ set(.r7, 0),
                /* 3 */ mov(.r8, .r3),
                /* 4 */ set(.r9, 0),
                /* 5 */ mov(.r1, .r6),
                /* 6 */ mov(.r2, .r7),
                /* 7 */ mov(.r3, .r10),
                /* 8 */ add(.r3, -area),
                /* 9 */ set(.r4, area),
                /* 10 */ .call(.helper(mapIterationHelperID)),
                /* 11 */ .branch(.w64, .eq, dst: .r0, .immediate(0), offset: 9),         // -> 21
                /* 12 */ add(.r7, 1),
                /* 13 */ add(.r9, 1),
                /* 14 */ mov(.r1, .r6),
                /* 15 */ mov(.r2, .r10),
                /* 16 */ add(.r2, -area),
                /* 17 */ mov(.r3, .r0),
                /* 18 */ mov(.r4, .r8),
                /* 19 */ callback(at: 19),
                /* 20 */ .branch(.w64, .eq, dst: .r0, .immediate(0), offset: -16),       // -> 5
                /* 21 */ mov(.r0, .r9),
                /* 22 */ .exit,
                /* 23 */ set(.r0, einval),
                /* 24 */ .exit,
            ]
        }
    }

    /// Per call of a callback helper: the function whose address r2 holds
    /// on every path there, and the loads that put it there. A forward
    /// dataflow over each function: `ld_imm64 src=4` sets a register, moves
    /// copy it, calls clobber r0–r5, any other write forgets it.
    static func codeAddresses(_ program: Program) -> [Int: (target: Int, loads: Set<Int>)] {
        enum Known: Hashable {
            case code(Int, Set<Int>)
            case unknown
            func join(_ other: Known) -> Known {
                if case .code(let a, let la) = self, case .code(let b, let lb) = other, a == b { return .code(a, la.union(lb)) }
                return .unknown
            }
        }
        let instructions = program.instructions
        var states: [[Known]?] = Array(repeating: nil, count: instructions.count)
        var work: [Int] = []
        for entry in program.functionEntries where entry < instructions.count {
            states[entry] = Array(repeating: .unknown, count: 11)
            work.append(entry)
        }
        while let pc = work.popLast() {
            guard var state = states[pc] else { continue }
            let instruction = instructions[pc]
            switch instruction {
            case .loadImmediate64(let dst, .codeAddress):
                state[dst.index] = .code(instruction.target(at: pc)!, [pc])
            case .alu(.w64, .mov, let dst, .register(let src)):
                state[dst.index] = state[src.index]
            case .call:
                for r in 0...5 { state[r] = .unknown }
            default:
                if let dst = instruction.writesRegister { state[dst.index] = .unknown }
            }
            for next in instruction.successors(at: pc) where next >= 0 && next < instructions.count {
                let merged = states[next].map { old in zip(old, state).map { $0.join($1) } } ?? state
                if merged != states[next] {
                    states[next] = merged
                    work.append(next)
                }
            }
        }
        var result: [Int: (target: Int, loads: Set<Int>)] = [:]
        for (pc, instruction) in instructions.enumerated() {
            guard case .call(.helper(let id)) = instruction, id == loopHelper || id == forEachHelper,
                  case .code(let target, let loads)? = states[pc]?[2] else { continue }
            result[pc] = (target, loads)
        }
        return result
    }

    /// The internal helper `bpf_for_each_map_elem` loops call (see `mapIterationHelperID`).
    static func mapIterationHelper(_ env: HelperEnvironment) -> Helper {
        Helper(id: mapIterationHelperID, name: "bpf_for_each_map_elem's iteration",
               prototype: HelperPrototype([.map, .scalar(bits: 64), .pointer(readOnly: false), .size], returns: .mapValueOrNull)) { call throws(HelperError) in
            guard let map = env.maps.map(handle: call.argument(1)) else {
                throw HelperError("bpf_for_each_map_elem (164): argument 1 is not a map of this program")
            }
            let definition = map.definition
            let position = call.argument(2)
            guard definition.keySize <= Int(clamping: call.argument(4)) else {
                throw HelperError("bpf_for_each_map_elem (164): map '\(map.name)' has \(definition.keySize)-byte keys, more than \(CallbackLoop.keyArea)")
            }
            let key: [UInt8]
            switch definition.type {
            case .array, .perCPUArray:
                guard position < UInt64(definition.maxEntries), let array = map as? ArrayMap else { return 0 }
                let index = UInt32(position)
                key = withUnsafeBytes(of: array.indexOrder == .little ? index.littleEndian : index.bigEndian) { Array($0) }
            case .hash, .perCPUHash, .lruHash, .lruPerCPUHash:
                let keys = map.keys()
                guard position < UInt64(keys.count) else { return 0 }
                key = keys[Int(position)]
            default:
                throw HelperError("bpf_for_each_map_elem (164): map '\(map.name)' is a \(definition.type) map, whose elements cannot be iterated")
            }
            return try call.memory.withBytes(at: call.argument(3), count: key.count, write: true) { buffer in
                buffer.copyBytes(from: key)
                return key.withUnsafeBytes { map.programLookup(key: $0) }
            }
        }
    }
}
