import BPFAssembler
import BPFConformance
import BPFISA
import Testing

/// Randomized inputs to the decoder and the assembler: every input either
/// succeeds or throws the module's typed error; nothing crashes. Whatever
/// succeeds must also survive the round trip through the conformance-style
/// disassembler. Seeds are fixed so a failure reproduces.
@Suite struct FuzzTests {
    /// Opcodes of real instructions, so random slots often decode and reach
    /// the field checks and the disassembler rather than stopping at the opcode.
    static let knownOpcodes: [UInt8] = Array(Set(AssemblerTests.golden.flatMap { $0.instruction.encoded.map(\.opcode) })).sorted()

    static let interestingImmediates: [Int32] = [0, 1, -1, 8, 16, 32, 64, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1, .max, .min]

    static func randomSlot(_ rng: inout SeededGenerator) -> [UInt8] {
        let opcode = Bool.random(using: &rng) ? knownOpcodes.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
        let registers = UInt8.random(in: 0...3, using: &rng) == 0 ? UInt8.random(in: 0...255, using: &rng)
            : UInt8.random(in: 0...10, using: &rng) | UInt8.random(in: 0...10, using: &rng) << 4
        let offset: Int16 = [0, 0, 1, 8, 16, 32, -1, .random(in: .min ... .max, using: &rng)].randomElement(using: &rng)!
        let imm = Bool.random(using: &rng) ? interestingImmediates.randomElement(using: &rng)! : .random(in: .min ... .max, using: &rng)
        let o = UInt16(bitPattern: offset), i = UInt32(bitPattern: imm)
        return [opcode, registers, UInt8(o & 0xff), UInt8(o >> 8), UInt8(i & 0xff), UInt8(i >> 8 & 0xff), UInt8(i >> 16 & 0xff), UInt8(i >> 24)]
    }

    @Test func randomBytesDecodeOrThrow() throws {
        var rng = SeededGenerator(seed: 0xB9F_0001)
        var decoded = 0
        for _ in 0..<20_000 {
            var bytes: [UInt8] = []
            if Bool.random(using: &rng) {
                for _ in 0..<Int.random(in: 0...6, using: &rng) { bytes += Self.randomSlot(&rng) }
            } else {
                // A valid program with at most one byte changed: inputs just
                // beside the valid ones, where field checks matter most.
                bytes = Program((0..<Int.random(in: 1...6, using: &rng)).map { _ in RandomInstruction.make(&rng) }).bytes()
                if Bool.random(using: &rng) { bytes[.random(in: 0..<bytes.count, using: &rng)] = .random(in: 0...255, using: &rng) }
            }
            if Int.random(in: 0..<20, using: &rng) == 0 { bytes += (0..<Int.random(in: 1...7, using: &rng)).map { _ in .random(in: 0...255, using: &rng) } }
            let program: Program
            do {
                program = try Program(bytes: bytes)
            } catch {
                if let index = error.index { #expect(index >= 0 && index < max(1, bytes.count / 8), "\(error)") }
                continue
            }
            decoded += 1
            #expect(program.bytes() == bytes, "decode then encode changed \(bytes)")
            let text = Disassembler.disassemble(program, style: .conformance)
            #expect(try Assembler.assembleBytes(text) == bytes, "\(text)")
            #expect(!Disassembler.disassemble(program, style: .llvm).isEmpty)
        }
        #expect(decoded > 3_000, "too few random programs decoded to exercise the disassembler")
    }

    /// The lines of every corpus program, for mutation.
    static let corpusPrograms: [[String]] = Corpus.paths("tests").compactMap { path -> [String]? in
        (try? ConformanceFile(path: path))?.asm.map { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
    }

    static let junk: [String] = ["%r11", "%r-1", "%r", "[", "]", "[%r1+", "+", "-", ",", ":", "#", "lock", "fetch", "local",
                                 "0x", "0x1ffffffffffffffff", "99999999999999999999", "-9223372036854775809", "2147483648",
                                 "-32769", "+65536", "é", "🙂", "\u{301}", "\t", "\r\n", "label:", "exit", "\0", "--", "map_fd"]

    static func mutate(_ line: String, _ rng: inout SeededGenerator) -> String {
        var tokens = line.split(separator: " ").map(String.init)
        switch Int.random(in: 0..<8, using: &rng) {
        case 0 where !tokens.isEmpty: tokens.remove(at: .random(in: 0..<tokens.count, using: &rng))
        case 1 where !tokens.isEmpty:
            let i = Int.random(in: 0..<tokens.count, using: &rng)
            tokens.insert(tokens[i], at: i)
        case 2 where tokens.count > 1: tokens.swapAt(0, tokens.count - 1)
        case 3: tokens.insert(junk.randomElement(using: &rng)!, at: .random(in: 0...tokens.count, using: &rng))
        case 4 where !tokens.isEmpty: tokens[.random(in: 0..<tokens.count, using: &rng)] = junk.randomElement(using: &rng)!
        case 5:
            var characters = Array(line)
            for _ in 0..<Int.random(in: 1...3, using: &rng) where !characters.isEmpty {
                let printable = Character(Unicode.Scalar(UInt8.random(in: 32...126, using: &rng)))
                characters[.random(in: 0..<characters.count, using: &rng)] = printable
            }
            return String(characters)
        case 6: return String(line.prefix(.random(in: 0...line.count, using: &rng)))
        default: break
        }
        return tokens.joined(separator: " ")
    }

    @Test func mutatedAssemblyAssemblesOrThrows() throws {
        var rng = SeededGenerator(seed: 0xB9F_0002)
        var assembled = 0, rejected = 0
        for _ in 0..<5_000 {
            var lines = Self.corpusPrograms.randomElement(using: &rng)!
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let i = Int.random(in: 0..<lines.count, using: &rng)
                lines[i] = Self.mutate(lines[i], &rng)
            }
            let text = lines.joined(separator: "\n")
            do {
                let program = try Assembler.assemble(text)
                assembled += 1
                let again = Disassembler.disassemble(program, style: .conformance)
                #expect(try Assembler.assembleBytes(again) == program.bytes(), "\(text)")
            } catch {
                rejected += 1
                let all = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
                #expect(error.line >= 1 && error.line <= all.count, "\(error)")
                if error.reason != .noInstructions { #expect(error.text == String(all[error.line - 1]), "\(error)") }
            }
        }
        #expect(assembled > 500 && rejected > 2_000, "assembled \(assembled), rejected \(rejected)")
    }

    @Test func randomTextAssemblesOrThrows() {
        var rng = SeededGenerator(seed: 0xB9F_0003)
        let alphabet: [Character] = Array("abcdefghijklmnopqrstuvwxyz0123456789%r[]+-,:#x \t\nlockfetchexit") + ["é", "\u{301}", "\r\n", "🙂"]
        for _ in 0..<5_000 {
            let characters: [Character] = (0..<Int.random(in: 0...80, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            let text = String(characters)
            do {
                _ = try Assembler.assemble(text)
            } catch {
                #expect(error.line >= 1, "\(error)")
            }
        }
    }

    /// Random well-formed instructions of every kind (pseudo-source 64-bit
    /// loads, kernel-function calls and out-of-program targets included) round
    /// trip through the conformance syntax.
    @Test func randomInstructionsRoundTrip() throws {
        var rng = SeededGenerator(seed: 0xB9F_0004)
        for _ in 0..<2_000 {
            let instructions = (0..<Int.random(in: 1...12, using: &rng)).map { _ in RandomInstruction.make(&rng) }
            let program = Program(instructions)
            let text = Disassembler.disassemble(program, style: .conformance)
            let again = try Assembler.assemble(text)
            #expect(again.bytes() == program.bytes(), "\(text)")
            #expect(try Program(bytes: program.bytes()) == program)
        }
    }
}
