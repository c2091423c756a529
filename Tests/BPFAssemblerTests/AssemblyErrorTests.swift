import BPFAssembler
import BPFISA
import Testing

/// Malformed assembly throws an `AssemblyError` naming the line and what is wrong.
@Suite struct AssemblyErrorTests {
    typealias Reason = AssemblyError.Reason

    static func error(_ text: String) -> AssemblyError? {
        do {
            _ = try Assembler.assemble(text)
            return nil
        } catch {
            return error
        }
    }

    static let cases: [(text: String, line: Int, reason: Reason)] = [
        ("frob %r0", 1, .unknownMnemonic("frob")),
        ("mov %r0", 1, .operandCount(mnemonic: "mov", expected: "2 operands (register, register or immediate)", found: 1)),
        ("exit %r0", 1, .operandCount(mnemonic: "exit", expected: "no operands", found: 1)),
        ("mov %r0,", 1, .emptyOperand(mnemonic: "mov")),
        ("mov %r0,, 1", 1, .emptyOperand(mnemonic: "mov")),
        ("mov %r11, 1", 1, .badRegister("%r11")),
        ("mov %r0, %r50", 1, .badRegister("%r50")),
        ("mov %rx, 1", 1, .badRegister("%rx")),
        ("mov r0, 1", 1, .expectedRegister("r0")),
        ("neg 5", 1, .expectedRegister("5")),
        ("mov %r0, 12abc", 1, .badNumber("12abc")),
        ("mov %r0, 0x", 1, .badNumber("0x")),
        ("mov %r0, 0xfg", 1, .badNumber("0xfg")),
        ("ldxw %r0, [%r1+]", 1, .badMemoryOperand("[%r1+]")),
        ("ldxw %r0, [%r1+-2]", 1, .badMemoryOperand("[%r1+-2]")),
        ("ldxw %r0, %r1+2]", 1, .badMemoryOperand("%r1+2]")),
        ("ldxw %r0, [%r1+4", 1, .badMemoryOperand("[%r1+4")),
        ("ldxw %r0, []", 1, .expectedRegister("")),
        ("ja 3", 1, .badJumpTarget("3")),
        ("ja nowhere", 1, .undefinedLabel("nowhere")),
        ("exit\nx:\n  x:", 3, .duplicateLabel("x", firstLine: 2)),
        ("1x: exit", 1, .badLabel("1x")),
        (": exit", 1, .badLabel("")),
        ("call", 1, .operandCount(mnemonic: "call", expected: "1 operand (N, helper N, local LABEL|+N, runtime N, or %rN)", found: 0)),
        ("call far 3", 1, .badCallTarget("far 3")),
        ("call local 1 2", 1, .badCallTarget("local 1 2")),
        ("lddw %r0, map_fd", 1, .badImmediate64("map_fd")),
        ("lddw %r0, 1 2", 1, .badImmediate64("1 2")),
        ("lock", 1, .operandCount(mnemonic: "lock", expected: "an operation and 2 operands", found: 0)),
        ("lock fetch", 1, .operandCount(mnemonic: "lock", expected: "an operation and 2 operands", found: 0)),
        ("lock sub [%r1], %r2", 1, .unknownAtomicOperation("sub")),
        ("", 1, .noInstructions),
        ("# nothing\n\n", 3, .noInstructions),
        ("exit\nmov32 %r0, 5\nmov %r0, 99999999999999999999999", 3, .outOfRange("99999999999999999999999", field: "32-bit immediate", range: "-2147483648 to 2147483647, or 0x0 to 0xffffffff")),
    ]

    @Test(arguments: 0..<cases.count)
    func rejected(index: Int) throws {
        let (text, line, reason) = Self.cases[index]
        let error = try #require(Self.error(text), "\(text) assembled")
        #expect(error.line == line, "\(text): \(error)")
        #expect(error.reason == reason, "\(text): \(error)")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(error.text == (line <= lines.count ? String(lines[line - 1]) : ""), "\(text)")
        #expect(error.description.hasPrefix("line \(line): "))
    }

    /// Every field's range, both ends and one past.
    @Test func ranges() {
        let accepted = ["mov32 %r0, 2147483647", "mov32 %r0, -2147483648", "mov32 %r0, 0xffffffff", "mov32 %r0, -0x80000000",
                        "lddw %r0, 0xffffffffffffffff", "lddw %r0, -9223372036854775808", "lddw %r0, 9223372036854775807",
                        "ldxb %r0, [%r1+32767]", "ldxb %r0, [%r1-32768]", "ldxb %r0, [%r1+0x7fff]",
                        "ja +32767", "ja -32768", "ja32 +2147483647", "ja32 -2147483648", "call local -2147483648",
                        "stw [%r1], 0xffffffff", "call 0xffffffff", "jeq %r0, -2147483648, +0"]
        for text in accepted {
            #expect(Self.error(text) == nil, "\(text)")
        }
        let rejected = ["mov32 %r0, 2147483648", "mov32 %r0, -2147483649", "mov32 %r0, 0x100000000", "mov32 %r0, -0x80000001",
                        "lddw %r0, 0x10000000000000000", "lddw %r0, -9223372036854775809", "lddw %r0, 9223372036854775808",
                        "ldxb %r0, [%r1+32768]", "ldxb %r0, [%r1-32769]", "ldxb %r0, [%r1+0x10000]", "ldxb %r0, [%r1+0xffff]",
                        "ja +32768", "ja -32769", "ja32 +2147483648", "ja32 -2147483649",
                        "stw [%r1], 0x1ffffffff", "call 4294967296", "jeq %r0, 2147483648, +0", "jeq %r0, 1, +99999"]
        for text in rejected {
            guard let error = Self.error(text) else {
                Issue.record("\(text) assembled")
                continue
            }
            guard case .outOfRange = error.reason else {
                Issue.record("\(text): \(error)")
                continue
            }
        }
    }

    /// A label too far for a 16-bit jump is an error; `ja32` reaches it.
    @Test func labelDistance() throws {
        let body = String(repeating: "mov %r0, 0\n", count: 32768)
        let error = try #require(Self.error("ja far\n" + body + "far: exit"))
        #expect(error.line == 1)
        #expect(error.reason == .labelOutOfRange("far", distance: 32768, field: "16-bit offset"))
        #expect(Self.error("ja32 far\n" + body + "far: exit") == nil)
        #expect(Self.error("ja far\n" + String(body.dropLast("mov %r0, 0\n".count)) + "far: exit") == nil)
    }

    /// The first bad line is reported, even when a later line defines a
    /// label twice or an earlier line names an undefined label.
    @Test func firstBadLineWins() throws {
        #expect(Self.error("ja nowhere\nfrob")?.line == 2)
        #expect(Self.error("mov %r99, 1\nx:\nx:\nexit")?.line == 1)
        #expect(Self.error("exit\r\nfrob\r\n")?.text == "frob")
    }
}
