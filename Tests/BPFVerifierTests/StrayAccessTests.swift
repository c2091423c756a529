import BPFAssembler
import BPFHelpers
import BPFInterpreter
import BPFISA
import BPFLoader
import BPFMaps
import BPFRuntime
@testable import BPFVerifier
import Testing

/// An access through a stack pointer that lies wholly outside the run's
/// stack (eight frames of 512 bytes, the entry frame on top), or through the
/// context pointer wholly outside the context, reaches whatever each engine
/// happens to lay out next to it: the heap block after the interpreter's
/// stack, the host's stack above the JIT's frame. Its outcome is an accident
/// of layout, so the verifier refuses it. An access that only may leave
/// stays, checked at run time; one into another frame of the stack is
/// defined (a callee may read its caller's frame through its own r10).
struct StrayAccessTests {
    @Test(arguments: [
        // Above the entry frame's top.
        ("ldxw %r0, [%r10+8]\nexit", "frame offsets [8, 12)"),
        ("stdw [%r10+0], 1\nmov %r0, 0\nexit", "frame offsets [0, 8)"),
        // Below the last of the eight frames.
        ("ldxb %r0, [%r10-4097]\nexit", "frame offsets [-4097, -4096)"),
        ("mov %r1, %r10\nadd %r1, -5000\nstxdw [%r1+0], %r1\nmov %r0, 0\nexit", "frame offsets [-5000, -4992)"),
        // A callee above its caller's frame, through its own r10.
        ("call local sub\nexit\nsub:\nldxdw %r0, [%r10+512]\nexit", "frame offsets [512, 520)"),
        // A variable offset whose every value lands above the frame.
        ("""
         call 7
         and %r0, 0x7f
         mov %r1, %r10
         add %r1, %r0
         ldxb %r0, [%r1+1]
         exit
         """, "frame offsets [1, 129)"),
        // A callee reading far above a pointer into its caller's frame (what a
        // differential campaign found: the interpreter's read landed in heap
        // memory next to its stack, the JIT's in the host's stack).
        ("""
         mov %r1, %r10
         add %r1, -56
         call local sub
         exit
         sub:
         ldxw %r3, [%r1+500]
         mov %r0, %r3
         exit
         """, "frame offsets [444, 448)"),
    ])
    func wholeStrayStackAccessesAreRefused(program: String, offsets: String) throws {
        let why = try Refusal.reason(program)
        #expect(why?.contains("lies wholly outside the stack") == true, "\(why ?? "loaded")")
        #expect(why?.contains(offsets) == true, "\(why ?? "loaded")")
    }

    @Test(arguments: [
        // The stack's edges.
        "ldxb %r0, [%r10-512]\nexit",
        "ldxb %r0, [%r10-4096]\nexit",
        // A callee reading its caller's frame through its own r10.
        "stdw [%r10-8], 5\ncall local sub\nexit\nsub:\nldxdw %r0, [%r10+504]\nexit",
        "stdw [%r10-8], 1\nldxdw %r0, [%r10-8]\nexit",
        // Only partly outside: kept, checked at run time.
        "ldxw %r0, [%r10-2]\nexit",
        "ldxdw %r0, [%r10-4092]\nexit",
        """
        call 7
        and %r0, 7
        mov %r1, %r10
        add %r1, -4
        add %r1, %r0
        ldxb %r0, [%r1+0]
        exit
        """,
        // A pointer into the caller's frame used inside it.
        """
        stdw [%r10-56], 7
        mov %r1, %r10
        add %r1, -56
        call local sub
        exit
        sub:
        ldxdw %r0, [%r1+0]
        exit
        """,
    ])
    func accessesThatMayTouchTheFrameLoad(program: String) throws {
        let outcome = try Refusal.outcome(program)
        #expect(outcome.refusal == nil, "\(outcome.refusal ?? "")")
    }

    @Test func partlyStrayAccessesStayChecked() throws {
        let linked = try #require(try Refusal.outcome("ldxw %r0, [%r10-2]\nexit").linked)
        #expect(linked.proofs.safeAccessCount == 0)
    }

    /// The context pointer moved past the context's end: no field is there.
    /// (The loader already refuses a moved context pointer for the program
    /// types it rewrites; the verifier does not rely on that.)
    @Test func wholeStrayContextAccessesAreRefused() throws {
        let environment = VerifierEnvironment.forProgram(type: ProgramTypes.xdp, maps: [], kernelHelpers: [])
        func refusal(_ text: String) throws -> String? {
            Verifier.verify(try Assembler.assemble(text, name: "attack"), environment: environment).refusal
        }
        let why = try refusal("add %r1, 4096\nldxw %r0, [%r1+0]\nexit")
        #expect(why?.contains("at context offset 4096 lies wholly outside the") == true, "\(why ?? "loaded")")
        let before = try refusal("add %r1, -8\nldxw %r0, [%r1+4]\nexit")
        #expect(before?.contains("context offset -4") == true, "\(before ?? "loaded")")
        // Inside, moved or not, it is not this refusal.
        let inside = try refusal("add %r1, 4\nldxw %r0, [%r1+0]\nexit")
        #expect(inside?.contains("wholly outside") != true, "\(inside ?? "loaded")")
    }
}

/// The same rule for the packet, and the stricter one for map values: an
/// access through a packet pointer wholly below where the packet's memory
/// can start (its metadata, at most `VerifierEnvironment.maxPacketMetadata`
/// bytes before `data`; nothing before a `mem` input) reaches another
/// region of the run or none, depending on where each engine put the
/// packet. A map value's neighbours are other elements, or whatever lies
/// next to the map's storage: every access not proven inside the value is
/// refused, before the null check too, as the kernel refuses it ("invalid
/// access to map value"). A register that holds different kinds on
/// different paths is judged on each: the access is refused when on some
/// path it is (a map value outside its value, a pointer wholly outside).
extension StrayAccessTests {
    /// `data` in r2 and `data_end` in r3, eight bytes checked.
    static let packet = """
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        mov %r4, %r2
        add %r4, 8
        jgt %r4, %r3, out

        """
    /// r0: a 64-byte value of an array map, null-checked (r1-r5 clobbered).
    static let lookup = """
        stw [%r10-4], 1
        lddw %r1, map_idx 0
        mov %r2, %r10
        add %r2, -4
        call 1

        """

    static func values() throws -> [any BPFMap] {
        [try makeMap(MapDefinition(name: "values", type: .array, keySize: 4, valueSize: 64, maxEntries: 4))]
    }

    @Test(arguments: [
        // What a differential campaign found: a callee reading 500 bytes below
        // a packet pointer passed to it (8 past data): below the packet's
        // memory, where another region of the run may lie or none.
        (packet + "mov %r1, %r2\nadd %r1, 8\ncall local sub\nout:\nmov %r0, 0\nexit\nsub:\nldxdw %r0, [%r1-500]\nexit",
         "packet offsets [-492, -484)"),
        (packet + "ldxb %r0, [%r2-256]\nout:\nexit", "packet offsets [-256, -255)"),
        (packet + "stb [%r2-4096], 1\nout:\nmov %r0, 0\nexit", "packet offsets [-4096, -4095)"),
        // A variable offset whose every value lands below.
        (packet + "ldxb %r5, [%r2+0]\nadd %r2, %r5\nldxw %r0, [%r2-600]\nout:\nexit", "packet offsets [-600, -341)"),
    ])
    func wholeStrayPacketAccessesAreRefused(program: String, offsets: String) throws {
        let why = try Refusal.reason(program)
        #expect(why?.contains("lies wholly before the packet") == true, "\(why ?? "loaded")")
        #expect(why?.contains(offsets) == true, "\(why ?? "loaded")")
    }

    @Test(arguments: [
        // Where metadata may lie (checked at run time), and the packet itself.
        packet + "ldxb %r0, [%r2-255]\nout:\nexit",
        packet + "ldxdw %r0, [%r2-8]\nout:\nexit",
        packet + "ldxdw %r0, [%r2+0]\nout:\nexit",
        // Past the checked range: the packet may be longer (its length is known only at run time).
        packet + "ldxdw %r0, [%r2+4000]\nout:\nexit",
    ])
    func packetAccessesThatMayTouchThePacketLoad(program: String) throws {
        let outcome = try Refusal.outcome(program)
        #expect(outcome.refusal == nil, "\(outcome.refusal ?? "")")
    }

    @Test func nothingLiesBeforeAMemInput() throws {
        let why = try Refusal.reason("ldxb %r0, [%r1-1]\nexit", type: ProgramTypes.mem)
        #expect(why?.contains("input offsets [-1, 0) lies wholly before the input") == true, "\(why ?? "loaded")")
        let inside = try Refusal.outcome("ldxb %r0, [%r1+5000]\nexit", type: ProgramTypes.mem)
        #expect(inside.refusal == nil, "\(inside.refusal ?? "")")
    }

    @Test(arguments: [
        // Below and above the value, wholly or partly.
        (lookup + "jeq %r0, 0, out\nldxdw %r1, [%r0-8]\nout:\nmov %r0, 0\nexit", "offsets [-8, 0) is outside the 64-byte value"),
        (lookup + "jeq %r0, 0, out\nldxdw %r1, [%r0-500]\nout:\nmov %r0, 0\nexit", "offsets [-500, -492) is outside the 64-byte value"),
        (lookup + "jeq %r0, 0, out\nstdw [%r0+64], 1\nout:\nmov %r0, 0\nexit", "offsets [64, 72) is outside the 64-byte value"),
        (lookup + "jeq %r0, 0, out\nldxdw %r1, [%r0+60]\nout:\nmov %r0, 0\nexit", "offsets [60, 68) is outside the 64-byte value"),
        // A variable offset that may leave the value.
        (lookup + "jeq %r0, 0, out\nldxb %r1, [%r0+0]\nadd %r0, %r1\nldxb %r1, [%r0+0]\nout:\nmov %r0, 0\nexit",
         "offsets [0, 256) is outside the 64-byte value"),
        // Before the null check.
        (lookup + "ldxdw %r1, [%r0+64]\nmov %r0, 0\nexit", "offsets [64, 72) is outside the 64-byte value"),
    ])
    func mapValueAccessesNotInsideAreRefused(program: String, reason: String) throws {
        let why = try Refusal.reason(program, maps: Self.values())
        #expect(why?.contains(reason) == true, "\(why ?? "loaded")")
    }

    /// r1 is a map value on one path and a stack pointer on the other
    /// (which one depends on the packet), and a callee reads through it.
    static func joined(_ read: String) -> String {
        packet + """
            ldxb %r6, [%r2+0]
            \(lookup)
            jeq %r0, 0, out
            mov %r1, %r0
            jeq %r6, 7, both
            mov %r1, %r10
            add %r1, -56
            both:
            call local sub
            out:
            mov %r0, 0
            exit
            sub:
            \(read)
            exit
            """
    }

    @Test(arguments: [
        // Outside the value, and wholly outside the stack too: whichever path comes first.
        ("ldxdw %r0, [%r1+600]", ["offsets [600, 608) is outside the 64-byte value", "frame offsets [544, 552) lies wholly outside the stack"]),
        // Outside the value though inside the stack: the map path alone is refused.
        ("ldxdw %r0, [%r1-16]", ["offsets [-16, -8) is outside the 64-byte value"]),
        ("stb [%r1-1], 1", ["offsets [-1, 0) is outside the 64-byte value"]),
    ])
    func joinedMapValueAndStackPointersAreJudgedOnEachPath(read: String, reasons: [String]) throws {
        let why = try Refusal.reason(Self.joined(read), maps: Self.values())
        #expect(reasons.contains { why?.contains($0) == true }, "\(why ?? "loaded")")
    }

    @Test func joinedPointersInsideBothLoad() throws {
        // [0, 8) of the value, and bytes of the caller's frame at r10 - 56.
        let outcome = try Refusal.outcome(Self.joined("ldxdw %r0, [%r1+0]"), maps: Self.values())
        #expect(outcome.refusal == nil, "\(outcome.refusal ?? "")")
    }

    /// The rule rests on `bpf_xdp_adjust_meta` never putting more than
    /// `maxPacketMetadata` bytes before data: with room made first (the
    /// packet's head moved 64 bytes on), the largest move it accepts
    /// returns 0, one word more is refused (the interpreter runs BPFKit's
    /// helper).
    @Test(arguments: [(VerifierEnvironment.maxPacketMetadata / 4 * 4, true), (VerifierEnvironment.maxPacketMetadata / 4 * 4 + 4, false)])
    func metadataNeverReachesFurtherThanTheRuleAssumes(bytes: Int, accepted: Bool) throws {
        let program = "mov %r6, %r1\nmov %r2, 64\ncall 44\nmov %r1, %r6\nmov %r2, -\(bytes)\ncall 54\nexit"
        let linked = try #require(try Refusal.outcome(program).linked)
        let prepared = try Interpreter().prepare(linked.program, configuration: linked.engineConfiguration())
        let run = try linked.makeRun(input: [UInt8](repeating: 7, count: 256))
        let result = try withExtendedLifetime(run) { try prepared.run(run.input) }
        #expect((result == 0) == accepted, "adjust_meta(-\(bytes)) returned \(Int64(bitPattern: result))")
    }
}
