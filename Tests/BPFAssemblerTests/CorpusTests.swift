import BPFAssembler
import BPFConformance
import BPFISA
import Testing

/// The whole conformance corpus through the file parser, the assembler and
/// the conformance-style disassembler.
@Suite struct CorpusTests {
    static let testPaths = Corpus.paths("tests")
    static let negativePaths = Corpus.paths("negative")

    @Test func corpusIsComplete() {
        #expect(Self.testPaths.count == 313)
        #expect(Self.negativePaths.count == 60)
    }

    /// Every test program assembles, and disassembling and re-assembling it
    /// gives identical bytes, with labels (whole program) and with offsets
    /// (instruction by instruction).
    @Test(arguments: testPaths)
    func roundTrip(path: String) throws {
        let file = try ConformanceFile(path: path)
        #expect(file.path == path)
        #expect(file.name == Corpus.name(path))
        let program = try file.program()
        #expect(program.name == file.name)
        try expectRoundTrip(program)
    }

    /// Negative files whose program builds (the ones that test run-time
    /// behaviour rather than the assembler or decoder) round-trip too.
    @Test func negativeFilesThatAssembleRoundTrip() throws {
        var built: [String] = []
        for path in Self.negativePaths {
            guard let file = try? ConformanceFile(path: path), let program = try? file.program() else { continue }
            built.append(Corpus.name(path))
            try expectRoundTrip(program)
        }
        #expect(built == ["error.data", "incorrect_return_value_high_bits.data"])
    }

    /// `lddw.data` carries both forms; the assembled bytes are the raw words.
    @Test func lddwAsmEqualsRawWords() throws {
        let file = try ConformanceFile(path: Corpus.root + "/tests/lddw.data")
        let asm = try #require(file.asm)
        #expect(try Assembler.assembleRaw(asm).map(\.word) == [0x5566_7788_0000_0018, 0x1122_3344_0000_0000, 0x0000_0000_0000_0095])
        #expect(try Assembler.assembleBytes(asm) == file.raw)
        #expect(try file.program().bytes() == file.raw)
    }

    /// Test files parse into what they say: a result, memory, an asm section.
    @Test func testFilesCarryResults() throws {
        var withMemory = 0
        for path in Self.testPaths {
            let file = try ConformanceFile(path: path)
            guard case .result = file.expected else {
                Issue.record("\(path): expected a result")
                continue
            }
            #expect(file.asm != nil)
            if !file.memory.isEmpty { withMemory += 1 }
        }
        #expect(withMemory == 40)
    }

    func expectRoundTrip(_ program: Program, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let text = Disassembler.disassemble(program, style: .conformance)
        let again = try Assembler.assemble(text)
        #expect(again.bytes() == program.bytes(), "\(program.name):\n\(text)", sourceLocation: sourceLocation)
        let lines = program.instructions.enumerated().map { Disassembler.text(of: $0.element, at: $0.offset, style: .conformance) }
        let byOffsets = try Assembler.assemble(lines.joined(separator: "\n"))
        #expect(byOffsets.bytes() == program.bytes(), "\(program.name) with offsets", sourceLocation: sourceLocation)
    }
}
