import BPFAssembler
import BPFConformance
import BPFISA
import Testing

/// The `.data` file format: sections, both forms of `-- raw`, memory,
/// expectations, and errors that name the file's line.
@Suite struct ConformanceFileTests {
    @Test func fullFile() throws {
        let file = try ConformanceFile(contents: """
        # Copyright
        # SPDX-License-Identifier: MIT

        -- c
        int main() { return 0; }
        -- asm
        # comment
        ldxh %r0, [%r1+2]
        exit
        -- mem
        aa bb 11 22
        33
        -- result
        0x2211
        -- no register offset
        call instruction
        """, name: "full.data")
        #expect(file.name == "full.data")
        #expect(file.asm == "# comment\nldxh %r0, [%r1+2]\nexit")
        #expect(file.asmFirstLine == 7)
        #expect(file.raw == nil)
        #expect(file.memory == [0xaa, 0xbb, 0x11, 0x22, 0x33])
        #expect(file.expected == .result(0x2211))
        #expect(file.cSource == "int main() { return 0; }")
        #expect(file.noRegisterOffset == "call instruction")
        #expect(try file.program().instructions == [.load(.half, dst: .r0, src: .r1, offset: 2), .exit])
    }

    @Test func rawWordsAndByteLists() throws {
        let words = try ConformanceFile(contents: "-- raw\n0x00000001000001b7\n0x0000000000000095\n-- result\n0x1", name: "w")
        let bytes = try ConformanceFile(contents: "-- raw\nb7 01 00 00 01 00 00 00\n95 00 00 00 00 00 00 00\n-- result\n1", name: "b")
        #expect(words.raw == bytes.raw)
        #expect(words.raw?.count == 16)
        #expect(bytes.expected == .result(1))
        #expect(try words.program().instructions == [.alu(.w64, .mov, dst: .r1, .immediate(1)), .exit])
    }

    @Test func crlfLineBreaks() throws {
        let file = try ConformanceFile(contents: "# c\r\n-- asm\r\nmov %r0, 1\r\nfrob\r\n-- result\r\n0x1\r\n", name: "crlf")
        #expect(file.asmFirstLine == 3)
        #expect(file.expected == .result(1))
        let error = try #require(throws: ConformanceFileError.self) { try file.program() }
        #expect(error.line == 4)
    }

    @Test func asmAndRawMustAgree() throws {
        let agree = try ConformanceFile(contents: "-- asm\nmov %r1, 1\nexit\n-- raw\n0x00000001000001b7\n0x0000000000000095", name: "a")
        #expect(try agree.program().raw.count == 2)
        let differ = try ConformanceFile(contents: "-- asm\nmov %r1, 2\nexit\n-- raw\n0x00000001000001b7\n0x0000000000000095", name: "d")
        let error = try #require(throws: ConformanceFileError.self) { try differ.program() }
        #expect(error.reason == .asmDisagreesWithRaw(slot: 0))
    }

    @Test func expectations() throws {
        #expect(try ConformanceFile(contents: "-- asm\nexit\n-- error\nInvalid", name: "e").expected == .error("Invalid"))
        #expect(try ConformanceFile(contents: "-- asm\nexit\n-- error\n", name: "e").expected == .error(""))
        #expect(try ConformanceFile(contents: "-- asm\nexit\n", name: "n").expected == .none)
        #expect(try ConformanceFile(contents: "-- result\n0xFFFFFFFFFFFFFFF6", name: "r").expected == .result(0xffff_ffff_ffff_fff6))
        #expect(try ConformanceFile(contents: "-- result\n10", name: "r").expected == .result(10))
    }

    /// Every malformed file names the line that is wrong.
    @Test func errorsNameTheLine() {
        let cases: [(String, Int?, ConformanceFileError.Reason)] = [
            ("# c\n-- asm\nexit\n-- frobnicate\n", 4, .unknownSection("frobnicate")),
            ("-- asm\nexit\n-- asm\nexit", 3, .duplicateSection("asm")),
            ("# c\nstray text\n-- asm\nexit", 2, .textOutsideSection("stray text")),
            ("-- raw\n95 00 00 00 00 00 00 00\n95 00 0g 00", 3, .badHex(section: "raw", token: "0g")),
            ("-- raw\n0x10000000000000095", 2, .badHex(section: "raw", token: "0x10000000000000095")),
            ("-- mem\n00 123\n", 2, .badHex(section: "mem", token: "123")),
            ("-- mem\n0x1234\n", 2, .badHex(section: "mem", token: "0x1234")),
            ("-- asm\nexit\n-- result\n0xzz", 4, .badResult("0xzz")),
            ("-- asm\nexit\n-- result\n1\n2", 5, .badResult("1 2")),
            ("-- asm\nexit\n-- result\n-1", 4, .badResult("-1")),
            ("-- asm\nexit\n-- result\n1\n-- error\nx", 5, .conflictingExpectations),
        ]
        for (contents, line, reason) in cases {
            do {
                _ = try ConformanceFile(contents: contents, name: "x.data")
                Issue.record("accepted: \(contents)")
            } catch {
                #expect(error.line == line, "\(contents): \(error)")
                #expect(error.reason == reason, "\(contents): \(error)")
                #expect(error.file == "x.data")
            }
        }
    }

    /// Assembly errors name the file's line, not the section's.
    @Test func assemblyErrorNamesFileLine() throws {
        let file = try ConformanceFile(contents: "# header\n-- asm\nmov %r0, 1\n\nfrob\nexit\n-- result\n0x1", name: "f.data")
        let error = try #require(throws: ConformanceFileError.self) { try file.program() }
        #expect(error.line == 5)
        guard case .assembly(let assembly) = error.reason else {
            Issue.record("\(error)")
            return
        }
        #expect(assembly.line == 5)
        #expect(assembly.reason == .unknownMnemonic("frob"))
        #expect(error.description.hasPrefix("f.data:5: "))
    }

    @Test func programErrors() throws {
        let none = try ConformanceFile(contents: "-- result\n0x1", name: "n")
        #expect(throws: ConformanceFileError(file: "n", line: nil, reason: .noProgram)) { try none.program() }
        let truncated = try ConformanceFile(contents: "-- raw\n95 00 00", name: "t")
        #expect(throws: ConformanceFileError(file: "t", line: nil, reason: .decoding(.truncatedBytes(count: 3)))) { try truncated.program() }
        #expect(throws: ConformanceFileError.self) { try ConformanceFile(path: "/nonexistent/file.data") }
    }
}
