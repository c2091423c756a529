import ArgumentParser
import Foundation
import BPFISA
import BPFAssembler
import BPFKit

/// `bpfkit asm`: assembly text to raw instruction bytes.
struct AssembleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "asm", abstract: "Assemble conformance-syntax assembly to raw bytes.")

    @Argument(help: "Assembly file (.s, .asm) or a corpus test (.data).")
    var input: String

    @Option(name: .shortAndLong, help: "Write raw bytes here (default: print hex, one instruction per line).")
    var output: String?

    @Flag(name: .customLong("big-endian"), help: "Encode for a big-endian target.")
    var bigEndian = false

    func run() throws {
        let file: ProgramFile
        do { file = try ProgramFile.load(path: input) } catch { throw fail(error.description) }
        let bytes = file.original.bytes(bigEndian ? .big : .little)
        if let output { return try writeFile(output, bytes) }
        for slot in stride(from: 0, to: bytes.count, by: 8) {
            print(bytes[slot..<slot + 8].map { String(format: "%02x", $0) }.joined(separator: " "))
        }
    }
}

/// `bpfkit disasm`: any program file to assembly text.
struct DisassembleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "disasm", abstract: "Disassemble a program (raw .bin, assembly or corpus file).")

    @Argument(help: "Program file.")
    var input: String

    @Option(name: .long, help: "Syntax: conformance (re-assembles to the same bytes) or llvm (as llvm-objdump prints).")
    var style: String = "conformance"

    @Flag(name: .customLong("big-endian"), help: "Decode a big-endian .bin file.")
    var bigEndian = false

    func run() throws {
        let syntax: DisassemblyStyle
        switch style {
        case "conformance": syntax = .conformance
        case "llvm": syntax = .llvm
        default: throw fail("unknown style '\(style)' (choose conformance or llvm)")
        }
        let program: Program
        if bigEndian {
            do { program = try Program(bytes: Array(try readFile(input)), byteOrder: .big) } catch let error as ISAError {
                throw fail("\(input): \(error)")
            }
        } else {
            do { program = try ProgramFile.load(path: input).original } catch { throw fail(error.description) }
        }
        print(Disassembler.disassemble(program, style: syntax, comments: true), terminator: "")
    }
}
