import BPFEmulator
import Foundation
import Testing

/// LLVM's assembler for every emulated target: test programs are assembled
/// by `llvm-mc` at test time, so their encodings come from LLVM, not from
/// hand-written bytes.
///
/// Looks for `llvm-mc` and `llvm-objcopy` in `$BPFKIT_LLVM_BIN`, `/usr/bin`
/// (Debian's `llvm` package, LLVM 14 is enough) and `$PATH`. Tests that need
/// it are disabled with a message when it is missing.
enum TargetAssembler {
    static let directory: String? = {
        var candidates: [String] = []
        if let dir = ProcessInfo.processInfo.environment["BPFKIT_LLVM_BIN"] { candidates.append(dir) }
        candidates.append("/usr/bin")
        candidates += (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        return candidates.first { dir in
            ["llvm-mc", "llvm-objcopy"].allSatisfy { FileManager.default.isExecutableFile(atPath: dir + "/" + $0) }
        }
    }()

    static var isAvailable: Bool { directory != nil }

    static let missingMessage: Comment = "llvm-mc and llvm-objcopy not found (install Debian's `llvm` or set BPFKIT_LLVM_BIN)"

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// `llvm-mc` triple and features for each target.
    static func arguments(for architecture: EmulatedArchitecture) -> [String] {
        switch architecture.name {
        case "arm64": ["-triple=aarch64", "-mattr=+lse"]
        case "arm32": ["-triple=armv7"]
        case "mips32le": ["-triple=mipsel"]
        case "mips32be": ["-triple=mips"]
        case "riscv64": ["-triple=riscv64"]
        default: ["-triple=\(architecture.name)"]
        }
    }

    /// The `.text` bytes of `source` assembled for `architecture`. MIPS
    /// sources are assembled with `.set noreorder`: delay slots are explicit.
    static func assemble(_ source: String, for architecture: EmulatedArchitecture) throws -> [UInt8] {
        guard let directory else { throw Failure(description: "\(missingMessage)") }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-emu-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let input = scratch.appendingPathComponent("program.s").path
        let object = scratch.appendingPathComponent("program.o").path
        let binary = scratch.appendingPathComponent("program.bin").path
        let prefix = architecture.name.hasPrefix("mips") ? ".set noreorder\n" : ""
        try (prefix + source + "\n").write(toFile: input, atomically: true, encoding: .utf8)
        try run(directory + "/llvm-mc", arguments(for: architecture) + ["-filetype=obj", input, "-o", object])
        try run(directory + "/llvm-objcopy", ["-O", "binary", "--only-section=.text", object, binary])
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: binary)))
    }

    /// `llvm-mc -show-encoding` bytes of a single instruction.
    static func encoding(of instruction: String, for architecture: EmulatedArchitecture) throws -> [UInt8] {
        guard let directory else { throw Failure(description: "\(missingMessage)") }
        let output = try run(directory + "/llvm-mc", arguments(for: architecture) + ["-show-encoding"], input: instruction)
        guard let start = output.range(of: "encoding: ["), let end = output[start.upperBound...].firstIndex(of: "]") else {
            throw Failure(description: "no encoding in llvm-mc output: \(output)")
        }
        return try output[start.upperBound..<end].split(separator: ",").map { text in
            guard let byte = UInt8(text.trimmingCharacters(in: .whitespaces).dropFirst(2), radix: 16) else {
                throw Failure(description: "unexpected encoding byte \(text)")
            }
            return byte
        }
    }

    @discardableResult
    private static func run(_ tool: String, _ arguments: [String], input: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let output = Pipe(), errors = Pipe(), stdin = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "\(tool) \(arguments.joined(separator: " ")): \(String(decoding: err, as: UTF8.self))")
        }
        return String(decoding: out, as: UTF8.self)
    }
}
