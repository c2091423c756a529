import BPFAssembler
import BPFHelpers
import BPFISA
import BPFLoader
import BPFMaps
@testable import BPFVerifier
import Testing

/// Attack programs the verifier must refuse at load (no run-time check
/// covers them), each next to the legitimate form it must still accept.
enum Refusal {
    /// Assembles and links `text`; the refusal's reason, or nil when the program loads.
    static func reason(_ text: String, type: any ProgramType = ProgramTypes.xdp, maps: [any BPFMap] = [],
                       policy: VerifierPolicy = .privileged) throws -> String? {
        try outcome(text, type: type, maps: maps, policy: policy).refusal
    }

    /// The linked program, or the refusal.
    static func outcome(_ text: String, type: any ProgramType = ProgramTypes.xdp, maps: [any BPFMap] = [],
                        policy: VerifierPolicy = .privileged, verify: Bool = true) throws -> (linked: LinkedProgram?, refusal: String?) {
        let program = try Assembler.assemble(text, name: "attack")
        let options = LoadOptions(trace: { _ in }, verifierLimits: verify ? VerifierLimits() : nil, policy: policy)
        do {
            return (try LinkedProgram(program: program, type: type, maps: maps, options: options), nil)
        } catch {
            guard case .refused(_, let why) = error else { throw error }
            return (nil, why)
        }
    }

    static func programArray() throws -> any BPFMap {
        try makeMap(MapDefinition(name: "jumps", type: .programArray, keySize: 4, valueSize: 4, maxEntries: 4))
    }

    static func ringBuffer() throws -> any BPFMap {
        try makeMap(MapDefinition(name: "events", type: .ringBuffer, keySize: 0, valueSize: 0, maxEntries: 4096))
    }
}

/// bpf_tail_call's r1 must be the program's own context, unmodified: the
/// target runs with it and was verified assuming it is.
struct TailCallContextTests {
    func tailCall(_ setup: String) -> String {
        """
        \(setup)
        lddw %r2, map_idx 0
        mov %r3, 0
        call 12
        mov %r0, 0
        exit
        """
    }

    @Test(arguments: [
        ("mov %r1, %r10\nadd %r1, -64", "a stack address"),
        ("add %r1, 8", "the context moved"),
        ("stxdw [%r10-8], %r1\nstw [%r10-4], 0\nldxdw %r1, [%r10-8]", "the context through a spill overwritten in half"),
        ("stxdw [%r10-8], %r1\nldxw %r1, [%r10-8]", "half the context through a spill"),
        ("stxdw [%r10-8], %r1\nldxdw %r1, [%r10-16]", "the slot beside the spill"),
        ("lddw %r1, 0x41414141", "a made-up address"),
        ("ldxw %r1, [%r1+0]", "the packet"),
    ])
    func madeUpContextIsRefused(_ setup: String, _ what: String) throws {
        let why = try Refusal.reason(tailCall(setup), maps: [try Refusal.programArray()])
        #expect(why?.contains("bpf_tail_call needs the program's context") == true, "\(what): \(why ?? "loaded")")
        #expect(why?.hasPrefix("instruction ") == true)
    }

    @Test func theContextItselfIsAccepted() throws {
        let maps = [try Refusal.programArray()]
        #expect(try Refusal.reason(tailCall(""), maps: maps) == nil)
        // A copy through r6 is the same pointer.
        #expect(try Refusal.reason(tailCall("mov %r6, %r1\nmov %r1, 0\nmov %r1, %r6"), maps: maps) == nil)
        // Spilled to the stack and filled back, as the kernel allows.
        #expect(try Refusal.reason(tailCall("stxdw [%r10-8], %r1\nmov %r1, 0\nldxdw %r1, [%r10-8]"), maps: maps) == nil)
        // From a subprogram that received it.
        let fromSubprogram = """
            call local f
            exit
            f:
            lddw %r2, map_idx 0
            mov %r3, 0
            call 12
            mov %r0, 0
            exit
            """
        #expect(try Refusal.reason(fromSubprogram, maps: maps) == nil)
        // mem programs: r1 is their context too.
        #expect(try Refusal.reason(tailCall(""), type: ProgramTypes.mem, maps: maps) == nil)
        #expect(try Refusal.reason(tailCall("add %r1, 1"), type: ProgramTypes.mem, maps: maps) != nil)
    }

    @Test func callxWithANumberUnknownAtLoadIsRefused() throws {
        let maps = [try Refusal.programArray()]
        // r6 = a random number: bpf_tail_call among others.
        let unknown = """
            call 7
            mov %r6, %r0
            mov %r1, %r10
            lddw %r2, map_idx 0
            mov %r3, 0
            call %r6
            mov %r0, 0
            exit
            """
        #expect(try Refusal.reason(unknown, maps: maps)?.contains("callx") == true)
        // A constant number is that helper, with its conditions.
        let constant = tailCall("mov %r1, %r10\nmov %r6, 12").replacingOccurrences(of: "call 12", with: "call %r6")
        #expect(try Refusal.reason(constant, maps: maps)?.contains("bpf_tail_call needs") == true)
        let fine = tailCall("mov %r6, 12").replacingOccurrences(of: "call 12", with: "call %r6")
        #expect(try Refusal.reason(fine, maps: maps) == nil)
    }
}

/// Pruning: a state holding a pointer is never included in one holding a
/// number, however unknown (the number's paths saw none of its stack use).
struct PointerScalarPruningTests {
    /// r6 is an unknown number on the first path explored and a stack
    /// pointer on the second; the join reads 8 bytes through r6.
    func program(initialized: Bool) -> String {
        """
        \(initialized ? "stdw [%r10-16], 0" : "")
        call 7
        mov %r6, %r0
        call 7
        jeq %r0, 0, pointer
        mov %r0, 0
        ja join
        pointer:
        mov %r6, %r10
        add %r6, -16
        mov %r0, 0
        join:
        ldxdw %r0, [%r6+0]
        exit
        """
    }

    @Test func pointerPathIsExploredAfterANumberPath() throws {
        let attack = try #require(try Refusal.outcome(program(initialized: false)).linked).verification
        #expect(!attack.proofs.stackReadsInitialized, "\(attack.summary)")
        #expect(attack.stackReadProblem?.contains("byte -16") == true, "\(attack.log)")
        let control = try #require(try Refusal.outcome(program(initialized: true)).linked).verification
        #expect(control.proofs.stackReadsInitialized, "\(control.log)")
    }

    func state(_ r6: Value, references: [AcquiredReference] = []) -> State {
        var registers = Array(repeating: Value.uninitialized, count: 11)
        registers[1] = .context(offset: 0)
        registers[6] = r6
        registers[10] = .stack(frame: 0, offset: 0, variable: .zero)
        return State(pc: 3, frames: [Frame(registers: registers, returnPC: -1)], packetRanges: [:], references: references)
    }

    @Test func inclusionRules() {
        let stack = Value.stack(frame: 0, offset: -8, variable: .zero)
        let region = Value.region(Region(kind: .mapValue, size: 8, writable: true), offset: 0, variable: .zero)
        for pointer in [stack, region, .context(offset: 0), .packetEnd, .mapHandle(1),
                        .mapValueOrNull(id: 0, Region(kind: .mapValue, size: 8, writable: true)),
                        .reference(id: 0, offset: 0, maybeNull: false)] {
            #expect(!state(pointer).isIncluded(in: state(.unknown)), "\(pointer.summary)")
            #expect(!state(.unknown).isIncluded(in: state(pointer)), "\(pointer.summary)")
            #expect(state(pointer).isIncluded(in: state(.uninitialized)))
            #expect(state(pointer).isIncluded(in: state(pointer)))
        }
        #expect(state(.scalar(Scalar(constant: 3))).isIncluded(in: state(.unknown)))
        // Frames are told apart.
        #expect(!state(.stack(frame: 1, offset: -8, variable: .zero)).isIncluded(in: state(stack)))
        // Held references must match one to one.
        let one = AcquiredReference(id: 0, kind: .ringBufferRecord, pc: 0)
        let other = AcquiredReference(id: 1, kind: .ringBufferRecord, pc: 0)
        let held = state(.reference(id: 0, offset: 0, maybeNull: false), references: [one])
        #expect(!held.isIncluded(in: state(.reference(id: 0, offset: 0, maybeNull: false))))
        #expect(!held.isIncluded(in: state(.reference(id: 0, offset: 0, maybeNull: true), references: [one])))
        #expect(held.isIncluded(in: state(.reference(id: 1, offset: 0, maybeNull: false), references: [other])))
    }

    @Test func twoReferencesNeverBecomeOne() {
        func twoRegisters(_ a: Int, _ b: Int, _ refs: [Int]) -> State {
            var s = state(.reference(id: a, offset: 0, maybeNull: false),
                          references: refs.map { AcquiredReference(id: $0, kind: .ringBufferRecord, pc: 0) })
            s[7] = .reference(id: b, offset: 0, maybeNull: false)
            return s
        }
        // Old: r6 and r7 two records (released one each). New: both the same record, one more leaked.
        #expect(!twoRegisters(5, 5, [5, 6]).isIncluded(in: twoRegisters(0, 1, [0, 1])))
        #expect(twoRegisters(5, 6, [5, 6]).isIncluded(in: twoRegisters(0, 1, [0, 1])))
    }
}

/// Stack pointers name their frame and die with it.
struct FrameLifetimeTests {
    @Test func returningAPointerIntoTheCalleesFrameIsRefused() throws {
        let escape = """
            call local leak
            mov %r6, %r0
            call local other
            ldxdw %r0, [%r6+0]
            exit
            leak:
            stdw [%r10-8], 7
            mov %r0, %r10
            add %r0, -8
            exit
            other:
            stdw [%r10-8], 1
            mov %r0, 0
            exit
            """
        let why = try Refusal.reason(escape)
        #expect(why?.contains("cannot return stack pointer to the caller") == true, "\(why ?? "loaded")")
        #expect(why?.hasPrefix("instruction 8:") == true, "\(why ?? "")")
    }

    @Test func pointersIntoTheCallersFrameStayUsable() throws {
        // The callee writes through the caller's pointer and returns it.
        let fine = """
            mov %r1, %r10
            add %r1, -8
            call local fill
            ldxdw %r0, [%r0+0]
            exit
            fill:
            stdw [%r1+0], 7
            mov %r0, %r1
            exit
            """
        let outcome = try Refusal.outcome(fine)
        let report = try #require(outcome.linked, "\(outcome.refusal ?? "")").verification
        #expect(report.proofs.isSafeAccess(at: 3) && report.proofs.isSafeAccess(at: 5), "\(report.log)")
        #expect(report.proofs.stackReadsInitialized, "\(report.log)")
    }
}

/// Jumps stay inside their BPF function, with and without verification.
struct FunctionBoundaryTests {
    let intoCallee = """
        call local f
        ja inside
        exit
        f:
        mov %r0, 1
        inside:
        mov %r0, 2
        exit
        """
    let intoCaller = """
        call local f
        back:
        mov %r0, 0
        exit
        f:
        ja back
        """

    @Test func jumpsAcrossFunctionsAreRefused() throws {
        for (text, jump, target) in [(intoCallee, 1, 4), (intoCaller, 3, 1)] {
            let program = try Assembler.assemble(text)
            #expect(throws: ISAError.jumpOutOfFunction(index: jump, target: target, function: jump == 1 ? 0 : 3,
                                                       end: jump == 1 ? 3 : 4)) { try program.validate() }
            for verify in [true, false] {
                #expect(throws: ObjectLoadError.self) { _ = try Refusal.outcome(text, verify: verify) }
            }
            do { try program.validate() } catch {
                #expect(error.description.contains("instruction \(jump)") && error.description.contains("target \(target)"), "\(error)")
                #expect(error.description.contains("jump out of range"))
            }
        }
    }

    @Test func jumpsInsideFunctionsAreAccepted() throws {
        let fine = """
            call local f
            ja done
            done:
            exit
            f:
            jeq %r1, 0, zero
            mov %r0, 1
            exit
            zero:
            mov %r0, 2
            exit
            """
        try Assembler.assemble(fine).validate()
        #expect(try Refusal.outcome(fine).linked != nil)
    }
}

/// Helpers may not change maps read-only for programs.
struct ReadOnlyMapTests {
    func map(_ type: MapType, readOnly: Bool) throws -> any BPFMap {
        try makeMap(MapDefinition(name: "m", type: type, keySize: 4, valueSize: 8, maxEntries: type == .array ? 1 : 4,
                                  flags: readOnly ? [.readOnlyProgram] : []))
    }

    let update = """
        stw [%r10-4], 0
        stdw [%r10-16], 65
        lddw %r1, map_idx 0
        mov %r2, %r10
        add %r2, -4
        mov %r3, %r10
        add %r3, -16
        mov %r4, 0
        call 2
        mov %r0, 0
        exit
        """
    let delete = """
        stw [%r10-4], 0
        lddw %r1, map_idx 0
        mov %r2, %r10
        add %r2, -4
        call 3
        mov %r0, 0
        exit
        """
    /// bpf_xdp_load_bytes(ctx, 0, value, 8) into the map's value (global data).
    let loadBytesIntoValue = """
        lddw %r3, map_value_idx 0 0
        mov %r2, 0
        mov %r4, 8
        call 189
        mov %r0, 0
        exit
        """

    @Test func writesIntoReadOnlyMapsAreRefused() throws {
        for type in [MapType.array, .hash] {
            for text in [update, delete] {
                let why = try Refusal.reason(text, maps: [try map(type, readOnly: true)])
                #expect(why?.contains("write into map forbidden") == true, "\(type): \(why ?? "loaded")")
                #expect(try Refusal.reason(text, maps: [try map(type, readOnly: false)]) == nil)
            }
        }
        let why = try Refusal.reason(loadBytesIntoValue, maps: [try map(.array, readOnly: true)])
        #expect(why?.contains("write into map forbidden") == true, "\(why ?? "loaded")")
        let fine = try #require(try Refusal.outcome(loadBytesIntoValue, maps: [try map(.array, readOnly: false)]).linked)
        #expect(fine.verification.helperCallsInBounds == 1, "\(fine.verification.log)")
    }
}

/// Acquired references (ring-buffer records): null-checked before use,
/// released exactly once before the program exits or tail-calls.
struct AcquiredReferenceTests {
    func reserve(_ after: String) -> String {
        """
        mov %r6, %r1
        lddw %r1, map_idx 0
        mov %r2, 8
        mov %r3, 0
        call 131
        \(after)
        mov %r0, 0
        exit
        """
    }
    let submit = "mov %r1, %r0\nmov %r2, 0\ncall 132"
    let nullCheck = "jeq %r0, 0, out"

    @Test func unreleasedRecordsAreRefused() throws {
        let maps = [try Refusal.ringBuffer()]
        let leaks = try Refusal.reason(reserve(""), maps: maps)
        #expect(leaks?.contains("unreleased reference") == true && leaks?.contains("acquired at instruction 5") == true, "\(leaks ?? "loaded")")
        // Released on one path only.
        let onePath = try Refusal.reason(reserve("""
            \(nullCheck)
            mov %r7, %r0
            call 7
            jeq %r0, 0, out
            mov %r1, %r7
            mov %r2, 0
            call 132
            out:
            """), maps: maps)
        #expect(onePath?.contains("unreleased reference") == true, "\(onePath ?? "loaded")")
        // A tail call while holding one.
        let tail = try Refusal.reason(reserve("\(nullCheck)\nmov %r1, %r6\nlddw %r2, map_idx 1\nmov %r3, 0\ncall 12\nout:"),
                                      maps: maps + [try Refusal.programArray()])
        #expect(tail?.contains("bpf_tail_call while holding") == true, "\(tail ?? "loaded")")
    }

    @Test func releasesMustBeOfCheckedHeldReferences() throws {
        let maps = [try Refusal.ringBuffer()]
        let unchecked = try Refusal.reason(reserve(submit), maps: maps)
        #expect(unchecked?.contains("may be null") == true, "\(unchecked ?? "loaded")")
        let twice = try Refusal.reason(reserve("\(nullCheck)\nmov %r7, %r0\n\(submit)\nmov %r1, %r7\nmov %r2, 0\ncall 133\nout:"), maps: maps)
        #expect(twice?.contains("must be an acquired reference") == true, "\(twice ?? "loaded")")
        let moved = try Refusal.reason(reserve("\(nullCheck)\nadd %r0, 4\n\(submit)\nout:"), maps: maps)
        #expect(moved?.contains("offset 4") == true, "\(moved ?? "loaded")")
        let number = try Refusal.reason("mov %r1, 0\nmov %r2, 0\ncall 132\nmov %r0, 0\nexit", maps: maps)
        #expect(number?.contains("must be an acquired reference") == true, "\(number ?? "loaded")")
    }

    @Test func checkedAndReleasedRecordsAreAccepted() throws {
        let maps = [try Refusal.ringBuffer()]
        // Null: nothing acquired. Otherwise written, then submitted (a copy is the same reference).
        let fine = reserve("""
            \(nullCheck)
            mov %r7, %r0
            stdw [%r7+0], 1
            mov %r1, %r7
            mov %r2, 0
            call 132
            out:
            """)
        let outcome = try Refusal.outcome(fine, maps: maps)
        #expect(outcome.refusal == nil, "\(outcome.refusal ?? "")")
        // Discard on the other branch of a later test.
        let either = reserve("""
            jne %r0, 0, have
            ja out
            have:
            mov %r7, %r0
            call 7
            mov %r1, %r7
            mov %r2, 0
            jeq %r0, 0, drop
            call 132
            ja out
            drop:
            call 133
            out:
            """)
        let second = try Refusal.outcome(either, maps: maps)
        #expect(second.refusal == nil, "\(second.refusal ?? "")")
    }
}

/// The unprivileged policy refuses programs that may leak a pointer.
struct UnprivilegedPolicyTests {
    /// data in r2, data_end in r3, 8 bytes checked, then `body`.
    func packet(_ body: String) -> String {
        """
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        mov %r4, %r2
        add %r4, 8
        jgt %r4, %r3, out
        \(body)
        out:
        mov %r0, 0
        exit
        """
    }
    let lookup = """
        stw [%r10-4], 0
        lddw %r1, map_idx 0
        mov %r2, %r10
        add %r2, -4
        call 1
        jeq %r0, 0, out
        """

    @Test(arguments: [
        ("mov %r0, %r10\nexit", "r0 at exit", false),
        ("mov %r0, %r1\nexit", "r0 at exit", false),
        ("lddw %r0, map_idx 0\nexit", "r0 at exit", true),
        ("stxdw [%r10-8], %r1\nmov %r0, 0\nexit", "storing r1", false),
        ("mov32 %r0, %r1\nexit", "arithmetic makes a pointer", false),
        ("mov %r0, %r1\nand %r0, 0xfff\nexit", "arithmetic makes a pointer", false),
        ("mov %r0, %r10\nsub %r0, %r1\nexit", "arithmetic makes a pointer", false),
        ("mov %r0, 0\njgt %r1, 5, out\nout:\nexit", "pointer comparison prohibited", false),
        ("mov %r0, %r5\nexit", "reads r5 before writing it", false),
        ("ldxw %r0, [%r1+8]\nexit", "reads a pointer field", false),
    ])
    func leaksAreRefused(_ text: String, _ expected: String, _ needsMap: Bool) throws {
        let maps = needsMap ? [try arrayMap(valueSize: 8)] : []
        let why = try Refusal.reason(text, maps: maps, policy: .unprivileged)
        #expect(why?.contains(expected) == true, "\(text): \(why ?? "loaded")")
        // Privileged hosts allow them (they do not follow the pointers).
        if !expected.contains("reads r5") {
            #expect(try Refusal.reason(text, maps: maps) == nil)
        }
    }

    @Test func leaksIntoMemoryAndHelpersAreRefused() throws {
        let maps = [try arrayMap(valueSize: 16)]
        let intoMap = try Refusal.reason(lookup + "\nstxdw [%r0+0], %r0\nout:\nmov %r0, 0\nexit", maps: maps, policy: .unprivileged)
        #expect(intoMap?.contains("storing r0 to memory leaks a pointer") == true, "\(intoMap ?? "loaded")")
        let handleIntoMap = try Refusal.reason(lookup + "\nlddw %r1, map_idx 0\nstxdw [%r0+0], %r1\nout:\nmov %r0, 0\nexit",
                                               maps: maps, policy: .unprivileged)
        #expect(handleIntoMap?.contains("leaks a pointer (map handle)") == true, "\(handleIntoMap ?? "loaded")")
        let intoPacket = try Refusal.reason(packet("stxdw [%r2+0], %r3"), policy: .unprivileged)
        #expect(intoPacket?.contains("leaks a pointer (packet end)") == true, "\(intoPacket ?? "loaded")")
        // bpf_trace_printk's r3 is printed as a number.
        let printk = """
            stdw [%r10-8], 0
            mov %r1, %r10
            add %r1, -8
            mov %r2, 8
            mov %r3, %r10
            mov %r4, 0
            mov %r5, 0
            call 6
            mov %r0, 0
            exit
            """
        let why = try Refusal.reason(printk, type: ProgramTypes.mem, policy: .unprivileged)
        #expect(why?.contains("r3 leaks a pointer") == true, "\(why ?? "loaded")")
        #expect(try Refusal.reason(printk.replacingOccurrences(of: "mov %r3, %r10", with: "mov %r3, 7"),
                                   type: ProgramTypes.mem, policy: .unprivileged) == nil)
        // A pointer made unreadable by bpf_xdp_adjust_head is not a number either.
        let stale = packet("mov %r6, %r2\nmov %r2, 4\ncall 44\nmov %r0, %r6\nexit")
        #expect(try Refusal.reason(stale, policy: .unprivileged)?.contains("reads r6 before writing it") == true)
    }

    @Test func legitimateProgramsAreAccepted() throws {
        let maps = [try arrayMap(valueSize: 16)]
        // Packet bounds checks, packet reads and writes, map lookups with a
        // null check, counters, helpers given memory, the packet's length.
        let program = packet("""
            ldxb %r6, [%r2+0]
            stxb [%r2+1], %r6
            mov %r7, %r2
            mov %r8, %r3
            \(lookup)
            mov %r1, 1
            stxdw [%r0+0], %r1
            ldxdw %r1, [%r0+8]
            add %r1, %r6
            stxdw [%r0+8], %r1
            mov %r1, %r8
            sub %r1, %r7
            stxdw [%r0+0], %r1
            """)
        let outcome = try Refusal.outcome(program, maps: maps, policy: .unprivileged)
        let report = try #require(outcome.linked, "\(outcome.refusal ?? "")").verification
        #expect(report.unproven.isEmpty, "\(report.log)")
        // Verification cannot be turned off.
        let unverified = try Refusal.outcome(program, maps: maps, policy: .unprivileged, verify: false)
        #expect(unverified.refusal?.contains("requires verification") == true)
        #expect(VerifierPolicy.unprivileged.hardensByDefault && !VerifierPolicy.privileged.hardensByDefault)
    }
}

extension AcquiredReferenceTests {
    @Test func recordsAreUsedOnlyAfterTheirNullCheck() throws {
        let maps = [try Refusal.ringBuffer()]
        let write = try Refusal.reason(reserve("stdw [%r0+0], 1\n\(nullCheck)\n\(submit)\nout:"), maps: maps)
        #expect(write?.contains("before its null check") == true, "\(write ?? "loaded")")
        // As bpf_ringbuf_output's data.
        let output = try Refusal.reason(reserve("""
            mov %r7, %r0
            mov %r1, %r6
            lddw %r1, map_idx 0
            mov %r2, %r7
            mov %r3, 8
            mov %r4, 0
            call 130
            mov %r0, %r7
            \(nullCheck)
            \(submit)
            out:
            """), maps: maps)
        #expect(output?.contains("before its null check") == true, "\(output ?? "loaded")")
    }
}

extension UnprivilegedPolicyTests {
    /// A loop that moves a pointer each time round: widening would make it
    /// an unknown number (which could then be returned).
    @Test func widenedPointersAreRefused() throws {
        let loop = """
            call 7
            mov %r6, %r10
            loop:
            add %r6, -1
            add %r0, -1
            jne %r0, 0, loop
            mov %r0, 0
            exit
            """
        let why = try Refusal.reason(loop, policy: .unprivileged)
        #expect(why?.contains("a loop changes a pointer") == true, "\(why ?? "loaded")")
        let outcome = try Refusal.outcome(loop)
        #expect(outcome.refusal == nil)
        #expect(outcome.linked?.verification.stackReadProblem?.contains("widened") == true)
    }
}
