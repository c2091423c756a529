import BPFAssembler
import BPFConformance
import BPFISA
import Testing

/// The corpus's malformed-assembly files (`negative/invalid_*`) are rejected,
/// each naming the line of the file that is wrong and why.
@Suite struct NegativeCorpusTests {
    typealias Reason = AssemblyError.Reason

    static let cases: [(file: String, line: Int, matches: @Sendable (Reason) -> Bool)] = [
        ("invalid_imm32_dec_range.data", 5, { if case .outOfRange("2147483648", _, _) = $0 { true } else { false } }),
        ("invalid_imm32_hex_range.data", 5, { if case .outOfRange("0x100000000", _, _) = $0 { true } else { false } }),
        ("invalid_label.data", 4, { $0 == .undefinedLabel("NOT_A_LABEL") }),
        ("invalid_lock.data", 4, { if case .operandCount("lock or", _, 1) = $0 { true } else { false } }),
        ("invalid_lock2.data", 4, { if case .operandCount("lock", _, 0) = $0 { true } else { false } }),
        ("invalid_mnemonic.data", 5, { $0 == .unknownMnemonic("ldxq") }),
        ("invalid_offset.data", 4, { $0 == .badMemoryOperand("%r1") }),
        ("invalid_offset_range.data", 5, { if case .outOfRange("[%r1+0x10000]", _, _) = $0 { true } else { false } }),
        ("invalid_operand_count.data", 4, { if case .operandCount("lddw", _, 1) = $0 { true } else { false } }),
        ("invalid_register.data", 4, { $0 == .badRegister("%r50") }),
    ]

    @Test func everyInvalidFileIsCovered() {
        let invalid = Corpus.paths("negative").map(Corpus.name).filter { $0.hasPrefix("invalid_") }
        #expect(Set(invalid) == Set(Self.cases.map(\.file) + ["invalid_unknown_directive.data"]))
    }

    @Test(arguments: 0..<cases.count)
    func invalidAssemblyIsRejected(index: Int) throws {
        let (name, line, matches) = Self.cases[index]
        let file = try ConformanceFile(path: Corpus.root + "/negative/" + name)
        let error = try #require(throws: ConformanceFileError.self) { try file.program() }
        #expect(error.line == line, "\(error)")
        guard case .assembly(let assembly) = error.reason else {
            Issue.record("\(name): not an assembly error: \(error)")
            return
        }
        #expect(assembly.line == line)
        #expect(matches(assembly.reason), "\(name): \(assembly)")
        // The assembler alone names the line within the asm text.
        let direct = try #require(throws: AssemblyError.self) { try Assembler.assemble(file.asm ?? "") }
        #expect(direct.line == line - file.asmFirstLine + 1)
    }

    /// An unknown `-- ` section is the file parser's to reject, naming its line.
    @Test func unknownDirectiveIsRejectedByTheFileParser() throws {
        let error = try #require(throws: ConformanceFileError.self) {
            try ConformanceFile(path: Corpus.root + "/negative/invalid_unknown_directive.data")
        }
        #expect(error.line == 4)
        #expect(error.reason == .unknownSection("Unknown directive"))
        #expect(error.file.hasSuffix("/negative/invalid_unknown_directive.data"))
    }

    /// The `unused-*` files hold reserved fields set: they parse, and the
    /// decoder refuses their program.
    @Test func reservedFieldFilesParseAndFailToDecode() throws {
        let unused = Corpus.paths("negative").filter { Corpus.name($0).hasPrefix("unused-") }
        #expect(unused.count == 45)
        for path in unused {
            let file = try ConformanceFile(path: path)
            #expect(file.raw?.count == 16, "\(path)")
            #expect(file.expected == .error(""), "\(path)")
            let error = try #require(throws: ConformanceFileError.self) { try file.program() }
            guard case .decoding = error.reason else {
                Issue.record("\(path): \(error)")
                continue
            }
        }
    }
}
