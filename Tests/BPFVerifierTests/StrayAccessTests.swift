import BPFAssembler
import BPFHelpers
import BPFISA
import BPFLoader
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
