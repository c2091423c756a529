import Testing
import BPFISA
import BPFJITX86_64
import BPFNativeDisassembler

/// The host's callee-saved registers (rbx, r13–r15 hold r6–r9) survive every
/// run: the entry prologue clears each r6–r9 a program names, so it must save
/// each of them, even one the program only reads.
@Suite struct CalleeSavedTests {
    static let homes: [(Register, String)] = [(.r6, "rbx"), (.r7, "r13"), (.r8, "r14"), (.r9, "r15")]

    @Test(arguments: homes.indices)
    func readOnlyCalleeSavedRegisterIsSavedAndRestored(_ i: Int) throws {
        let (register, home) = Self.homes[i]
        let program = Program([.alu(.w64, .mov, dst: .r0, .register(register)), .exit])
        let image = try X86_64JIT.assemble(program, at: 0x1000_0000)
        let text = try JITListing(image: image, program: program).text
        #expect(text.contains("push \(home)"), "\(text)")
        #expect(text.contains("pop \(home)"), "\(text)")
        let clears = text.range(of: "xor \(home == "rbx" ? "ebx, ebx" : "\(home)d, \(home)d")")
        let push = text.range(of: "push \(home)")
        if let clears, let push { #expect(push.lowerBound < clears.lowerBound, "saved before it is cleared") }
    }
}
