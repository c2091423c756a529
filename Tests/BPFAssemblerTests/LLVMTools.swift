import Foundation

/// The LLVM tools of the toolchain (clang for BPF, llvm-objcopy, llvm-objdump),
/// used as the independent truth for the LLVM disassembly style.
///
/// cpu v4 needs LLVM 18 or later; a directory is taken only when its
/// llvm-objdump is recent enough (`/usr/bin` often holds an older LLVM).
struct LLVMTools: Sendable {
    let directory: String

    static let found: LLVMTools? = {
        var candidates: [String] = []
        if let dir = ProcessInfo.processInfo.environment["BPFKIT_LLVM_BIN"] { candidates.append(dir) }
        candidates.append("/opt/swift/usr/bin")
        candidates += (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for dir in candidates {
            let tools = LLVMTools(directory: dir)
            let names = ["clang", "llvm-objcopy", "llvm-objdump"]
            guard names.allSatisfy({ FileManager.default.isExecutableFile(atPath: dir + "/" + $0) }),
                  let version = try? tools.run("llvm-objdump", ["--version"]),
                  let major = Self.majorVersion(version), major >= 18 else { continue }
            return tools
        }
        return nil
    }()

    static func majorVersion(_ text: String) -> Int? {
        guard let range = text.range(of: "LLVM version ") else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs a tool, returning its standard output; a non-zero exit throws with its standard error.
    @discardableResult
    func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: directory + "/" + tool)
        process.arguments = arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "\(tool) \(arguments.joined(separator: " ")): \(String(decoding: err, as: UTF8.self))")
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Assembles LLVM-syntax BPF assembly; returns the `.text` bytes and
    /// `llvm-objdump`'s instruction lines (whitespace normalized, jump-target
    /// annotations stripped).
    func assemble(_ source: String) throws -> (bytes: [UInt8], lines: [String]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-llvm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = dir.appendingPathComponent("forms.s").path
        let o = dir.appendingPathComponent("forms.o").path
        let bin = dir.appendingPathComponent("forms.bin").path
        try source.write(toFile: s, atomically: true, encoding: .utf8)
        try run("clang", ["-target", "bpf", "-mcpu=v4", "-c", s, "-o", o])
        try run("llvm-objcopy", ["-O", "binary", "--only-section=.text", o, bin])
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: bin)))
        let dump = try run("llvm-objdump", ["-d", "--mcpu=v4", "--no-show-raw-insn", "--no-leading-addr", o])
        var lines: [String] = []
        var inText = false
        for line in dump.split(separator: "\n") {
            if line.hasPrefix("<") && line.hasSuffix(">:") { inText = true; continue }
            guard inText else { continue }
            var text = Substring(line)
            if text.hasSuffix(">"), let annotation = text.range(of: " <", options: .backwards) {
                text = text[..<annotation.lowerBound]
            }
            lines.append(text.split(whereSeparator: \.isWhitespace).joined(separator: " "))
        }
        return (bytes, lines)
    }
}
