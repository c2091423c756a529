import Foundation

/// LLVM's assembler (`llvm-mc`) as the independent truth for a backend's
/// encoder: each backend lists every instruction form it emits, with the
/// text LLVM spells it in, and gives its triple and attributes; this driver
/// assembles all the texts in one run and compares the bytes.
public struct LLVMMC: Sendable {
    public static let path = "/usr/bin/llvm-mc"
    /// Whether llvm-mc is installed (Debian's `llvm`).
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: path) }

    /// `-triple=…`, `-mattr=…`, `-mcpu=…` and any further option.
    public let arguments: [String]
    /// Directives before the forms (`.intel_syntax noprefix`, `.set noreorder`).
    public let prologue: [String]
    /// Whether anything on llvm-mc's standard error is a failure.
    public let diagnosticsFail: Bool

    public init(triple: String, attributes: [String] = [], cpu: String? = nil, options: [String] = [], prologue: [String] = [],
                diagnosticsFail: Bool = true) {
        arguments = ["-triple=\(triple)"] + (attributes.isEmpty ? [] : ["-mattr=\(attributes.joined(separator: ","))"])
            + (cpu.map { ["-mcpu=\($0)"] } ?? []) + options
        self.prologue = prologue
        self.diagnosticsFail = diagnosticsFail
    }

    /// Runs llvm-mc with `extra` over `input`; its standard output and error.
    func run(_ extra: [String], input text: String) throws -> (output: String, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.path)
        process.arguments = arguments + extra
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Write from another thread: llvm-mc answers while it reads, and a full pipe would block both.
        let writer = Thread { input.fileHandleForWriting.write(Data(text.utf8)); try? input.fileHandleForWriting.close() }
        writer.start()
        final class Box: @unchecked Sendable { var data = Data() }
        let errorBox = Box(), reader = DispatchGroup()
        reader.enter()
        Thread { errorBox.data = errors.fileHandleForReading.readDataToEndOfFile(); reader.leave() }.start()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        reader.wait()
        process.waitUntilExit()
        return (String(decoding: data, as: UTF8.self), String(decoding: errorBox.data, as: UTF8.self))
    }

    /// The encoding of each instruction of `lines` (`--show-encoding`), in
    /// order; a nil byte is one llvm-mc leaves to a fixup. And what it
    /// printed on standard error.
    public func encode(_ lines: [String]) throws -> (encodings: [[UInt8?]], diagnostics: String) {
        let (output, errors) = try run(["--show-encoding"], input: (prologue + lines).joined(separator: "\n") + "\n")
        var result: [[UInt8?]] = []
        for line in output.split(separator: "\n") {
            guard let range = line.range(of: "encoding: [") else { continue }
            let list = line[range.upperBound...].prefix { $0 != "]" }
            result.append(list.split(separator: ",").map { UInt8($0.dropFirst(2), radix: 16) })
        }
        return (result, errors)
    }

    /// llvm-mc's text for each instruction of `words` (`--disassemble`), comments and directives left out.
    public func disassemble(_ words: [[UInt8]]) throws -> [String] {
        let text = words.map { $0.map { "0x" + String($0, radix: 16) }.joined(separator: ",") }.joined(separator: "\n") + "\n"
        return try run(["--disassemble"], input: text).output.split(separator: "\n").map { line in
            (line.range(of: "//").map { line[..<$0.lowerBound] } ?? line[...]).trimmingCharacters(in: .whitespaces)
        }.filter { !$0.hasPrefix(".") && !$0.isEmpty }
    }

    /// Every form against llvm-mc. A form's text may hold several
    /// instructions (one per line); its bytes are compared with theirs
    /// together. Where a form's bytes hold padding words (`padding`, a nop)
    /// around what its text names, leading and trailing padding is left out
    /// until the lengths match. A byte llvm-mc leaves to a fixup must be 0 in ours.
    public func check(_ forms: [(text: String, bytes: [UInt8])], padding: [UInt8]? = nil) throws -> (lines: Int, failures: [String]) {
        var lines: [String] = [], owners: [Int] = []
        for (k, form) in forms.enumerated() {
            for line in form.text.split(separator: "\n") { lines.append(String(line)); owners.append(k) }
        }
        let (encodings, diagnostics) = try encode(lines)
        var failures: [String] = []
        if diagnosticsFail && !diagnostics.isEmpty { failures.append("llvm-mc complained: \(diagnostics.prefix(2000))") }
        guard encodings.count == lines.count else {
            return (lines.count, failures + ["llvm-mc encoded \(encodings.count) of \(lines.count) lines"])
        }
        var expected = [[UInt8?]](repeating: [], count: forms.count)
        for (owner, encoding) in zip(owners, encodings) { expected[owner] += encoding }
        for (form, bytes) in zip(forms, expected) {
            var emitted = form.bytes
            if let padding, emitted.count > bytes.count {
                let width = padding.count
                var words = stride(from: 0, to: emitted.count - emitted.count % width, by: width).map { Array(emitted[$0..<$0 + width]) }
                while words.count * width > bytes.count, words.first == padding { words.removeFirst() }
                while words.count * width > bytes.count, words.last == padding { words.removeLast() }
                emitted = words.flatMap { $0 }
            }
            if emitted != bytes.map({ $0 ?? 0 }) {
                failures.append("\(form.text.replacingOccurrences(of: "\n", with: "; ")): emitted \(Self.hex(emitted)), llvm-mc \(bytes.map { $0.map { String(format: "%02x", $0) } ?? "A" }.joined(separator: " "))")
            }
        }
        return (lines.count, failures)
    }

    public static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined(separator: " ") }
}
