import ArgumentParser
import BPFKit
import Foundation

/// `bpfkit`: the command line, in the spirit of bpftool.
public struct BPFKitCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "bpfkit",
        abstract: "Assemble, inspect and run eBPF programs on BPFKit's interpreter and JITs.",
        discussion: """
            JIT backends built: \(EngineCatalog.builtArchitectures.map(\.rawValue).joined(separator: ", ")).
            Shell completion: bpfkit --generate-completion-script bash|zsh|fish (see the README).
            """,
        version: "bpfkit \(BPFKitVersion.current)",
        subcommands: [RunCommand.self, AssembleCommand.self, DisassembleCommand.self,
                      ConformanceCommand.self, ConformancePluginCommand.self, DumpCommand.self,
                      BenchCommand.self, VerifyCommand.self, FilterCommand.self]
    )

    public init() {}
}

/// Prints a failure as `error: ...` on standard error and exits with status 1.
func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode(1)
}

/// Parses hex bytes as the corpus and `--mem` write them: pairs of digits,
/// optionally separated by spaces, commas or newlines, with or without `0x`.
func parseHexBytes(_ text: String, what: String) throws(ExitCode) -> [UInt8] {
    var digits: [Character] = []
    var position = 0
    var rest = Substring(text)
    while let c = rest.first {
        position += 1
        if c == "0", rest.dropFirst().first == "x" || rest.dropFirst().first == "X" {
            rest = rest.dropFirst(2); position += 1; continue
        }
        rest = rest.dropFirst()
        if c.isWhitespace || c == "," { continue }
        guard c.isHexDigit else {
            throw fail("\(what): '\(c)' at character \(position) is not a hex digit")
        }
        digits.append(c)
    }
    guard digits.count % 2 == 0 else {
        throw fail("\(what): odd number of hex digits (\(digits.count)); bytes are two digits each")
    }
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// Reads a whole file, failing cleanly.
func readFile(_ path: String) throws(ExitCode) -> Data {
    do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        throw fail("\(path): cannot read: \(error.localizedDescription)")
    }
}

/// Writes a whole file, failing cleanly.
func writeFile(_ path: String, _ bytes: [UInt8]) throws(ExitCode) {
    do { try Data(bytes).write(to: URL(fileURLWithPath: path)) } catch {
        throw fail("\(path): cannot write: \(error.localizedDescription)")
    }
}
