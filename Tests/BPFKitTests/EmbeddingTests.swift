import Testing
import BPFISA
import BPFAssembler
import BPFRuntime
import BPFKit

/// The library used from Swift, without the command line.
@Suite struct EmbeddingTests {
    @Test func assembleLoadRunRead() throws {
        let program = try Assembler.assemble("mov %r0, 42\nexit")
        let loaded = try LoadedProgram(program, engine: .interpreter)
        #expect(try loaded.run(input: []).returnValue == 42)
    }

    /// Memory goes in through r1/r2 and comes back as the program left it.
    @Test func memoryInAndOut() throws {
        let program = Program([
            .load(.byte, dst: .r0, src: .r1, offset: 0),
            .alu(.w64, .add, dst: .r0, .register(.r2)),
            .storeImmediate(.byte, dst: .r1, offset: 1, imm: 0x55),
            .exit,
        ])
        let result = try LoadedProgram(program).run(input: [7, 0, 0])
        #expect(result.returnValue == 7 + 3)
        #expect(result.output == [7, 0x55, 0])
    }

    /// An embedder registers a helper in Swift; the program calls it by number.
    @Test func embedderHelper() throws {
        let triple = Helper(id: 1000, name: "triple", prototype: HelperPrototype([.scalar(bits: 64)], returns: .scalar(bits: 64))) { call in
            call.argument(1) &* 3
        }
        let program = try Assembler.assemble("mov %r1, 14\ncall 1000\nexit")
        let loaded = try LoadedProgram(program, helpers: HelperRegistry([triple]))
        #expect(try loaded.run(input: []).returnValue == 42)
    }

    @Test func errorsAreTyped() throws {
        let program = try Assembler.assemble("ldxdw %r0, [%r1+0]\nexit")
        let loaded = try LoadedProgram(program)
        let error = #expect(throws: RunError.self) { try loaded.run(input: []) }
        #expect(error?.error == .outOfBounds(pc: 0, address: 0, size: 8, write: false))
        #expect(throws: EngineSelectionError.self) {
            try LoadedProgram(program, engine: .interpreter, architecture: .mips32be)
        }
    }

    /// Every engine's summary over the corpus comes from `ConformanceRunner`.
    @Test func conformanceRunnerJudges() {
        let runner = ConformanceRunner()
        let corpus = Paths.corpus
        #expect(runner.run(path: corpus + "/tests/add.data") == .passed)
        if case .failed(let reason) = runner.run(path: corpus + "/negative/incorrect_return_value_high_bits.data") {
            #expect(reason.contains("0x8877665544332211"))
        } else {
            Issue.record("a wrong expectation must fail")
        }
        #expect(runner.run(path: corpus + "/negative/unused-neg-src.data") == .passed)  // expects an error, gets one
    }
}

enum Paths {
    static let corpus: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/Tests/Fixtures/conformance"
    }()
}

import Foundation
