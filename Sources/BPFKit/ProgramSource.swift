import Foundation
import BPFISA
import BPFAssembler
import BPFConformance

/// A program as it arrives: a file on disk in one of the formats BPFKit reads.
public enum ProgramFormat: String, Sendable, CaseIterable {
    /// Assembly in the conformance-corpus syntax (`.s`, `.asm`).
    case assembly
    /// Raw instruction bytes, little endian (`.bin`).
    case raw
    /// A conformance corpus test (`.data`): assembly or raw, plus memory and expectation.
    case conformance

    /// The format a file name's extension implies.
    public init?(path: String) {
        switch (path as NSString).pathExtension.lowercased() {
        case "s", "asm": self = .assembly
        case "bin", "raw": self = .raw
        case "data": self = .conformance
        default: return nil
        }
    }
}

/// Errors reading a program file, each naming the file and, where it applies, the line or instruction.
public struct LoadError: Error, Sendable, CustomStringConvertible {
    /// The file, or nil when the error is not about one file.
    public var path: String?
    /// What is wrong, starting with `line N:` or `instruction N:` where that applies.
    public var message: String

    public init(path: String? = nil, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.map { "\($0): \(message)" } ?? message }
}

/// A program read from a file, with the input memory the file carries (conformance files).
public struct ProgramFile: Sendable {
    public var program: Program
    /// Memory the file provides (`-- mem` of a `.data` file), if any.
    public var memory: [UInt8]?
    /// The conformance file, for `.data` inputs.
    public var conformance: ConformanceFile?

    /// Reads and decodes `path`; the program is also structurally validated.
    public static func load(path: String) throws(LoadError) -> ProgramFile {
        guard let format = ProgramFormat(path: path) else {
            throw LoadError(path: path, "unknown program format (expected .s, .asm, .data or .bin)")
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw LoadError(path: path, "cannot read file: \(error.localizedDescription)")
        }
        let name = (path as NSString).lastPathComponent
        var file: ProgramFile
        do {
            switch format {
            case .raw:
                file = ProgramFile(program: try Program(bytes: Array(data), name: name))
            case .assembly:
                guard let text = String(data: data, encoding: .utf8) else { throw LoadError(path: path, "not UTF-8 text") }
                file = ProgramFile(program: try Assembler.assemble(text, name: name))
            case .conformance:
                guard let text = String(data: data, encoding: .utf8) else { throw LoadError(path: path, "not UTF-8 text") }
                let conformance = try ConformanceFile(contents: text, name: name)
                file = ProgramFile(program: try conformance.program(), memory: conformance.memory, conformance: conformance)
            }
            try file.program.validate()
        } catch let error as LoadError {
            throw error
        } catch let error as ConformanceFileError {
            throw LoadError(path: path, error.line.map { "line \($0): \(error.reason)" } ?? "\(error.reason)")
        } catch {
            throw LoadError(path: path, "\(error)")
        }
        return file
    }

    public init(program: Program, memory: [UInt8]? = nil, conformance: ConformanceFile? = nil) {
        self.program = program
        self.memory = memory
        self.conformance = conformance
    }
}
