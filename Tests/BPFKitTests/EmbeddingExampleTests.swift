import Foundation
import Testing
import BPFKit

/// The README's "Use it from Swift" example, built as a package of its own
/// that depends on this checkout and imports only `BPFKit`, then run: the
/// files are taken from README.md as they stand, so the example cannot rot.
///
/// The package builds in `.build/embedding-example` of the checkout, kept
/// between runs: the first build compiles BPFKit once more (minutes on a
/// small machine), later ones only what changed.
@Suite struct EmbeddingExampleTests {
    static let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The `swift` driver: beside this process's toolchain on `PATH`, else /opt/swift.
    static let swift: String? = {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/swift" }
        return (path + ["/opt/swift/usr/bin/swift"]).first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// The fenced block after each `<!-- embedding-example: NAME -->` marker of README.md.
    static func readmeFiles() throws -> [String: String] {
        let readme = try String(contentsOf: checkout.appendingPathComponent("README.md"), encoding: .utf8)
        var files: [String: String] = [:]
        var lines = readme.split(separator: "\n", omittingEmptySubsequences: false)[...]
        while let line = lines.popFirst() {
            let marker = "<!-- embedding-example: "
            guard line.hasPrefix(marker), line.hasSuffix(" -->") else { continue }
            let name = String(line.dropFirst(marker.count).dropLast(" -->".count))
            guard lines.first?.hasPrefix("```") == true else { continue }
            lines.removeFirst()
            var body: [Substring] = []
            while let next = lines.popFirst(), !next.hasPrefix("```") { body.append(next) }
            files[name] = body.joined(separator: "\n") + "\n"
        }
        return files
    }

    @Test func readmeHasTheExample() throws {
        let files = try Self.readmeFiles()
        #expect(Set(files.keys) == ["Package.swift", "count_allowed.c", "main.swift", "output"])
        #expect(files["main.swift"]?.contains("import BPFKit") == true)
        #expect(files["main.swift"]?.split(separator: "\n").filter { $0.hasPrefix("import ") } == ["import BPFKit"])
        #expect(files["Package.swift"]?.contains(#".product(name: "BPFKit", package: "BPFKit")"#) == true)
    }

    @Test(.enabled(if: swift != nil, "no Swift toolchain (swift on PATH or /opt/swift/usr/bin/swift): the README example is not built"),
          .timeLimit(.minutes(15)))
    func readmeExampleBuildsAndRuns() throws {
        let files = try Self.readmeFiles()
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-embedding-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let package = work.appendingPathComponent("CountAllowed")
        let sources = package.appendingPathComponent("Sources/CountAllowed")
        try FileManager.default.createDirectory(at: sources, withIntermediateDirectories: true)
        // `.package(path: "../BPFKit")`, as the README writes it.
        try FileManager.default.createSymbolicLink(at: work.appendingPathComponent("BPFKit"), withDestinationURL: Self.checkout)
        try #require(files["Package.swift"]).write(to: package.appendingPathComponent("Package.swift"), atomically: true, encoding: .utf8)
        try #require(files["main.swift"]).write(to: sources.appendingPathComponent("main.swift"), atomically: true, encoding: .utf8)
        try #require(files["count_allowed.c"]).write(to: package.appendingPathComponent("count_allowed.c"), atomically: true, encoding: .utf8)
        // The checkout's pins, so dependencies resolve as they do for it (from the local cache, offline).
        let resolved = Self.checkout.appendingPathComponent("Package.resolved")
        if FileManager.default.fileExists(atPath: resolved.path) {
            try FileManager.default.copyItem(at: resolved, to: package.appendingPathComponent("Package.resolved"))
        }

        // The README's command line: clang from the Swift toolchain, then the package.
        let output = try #require(files["output"]).split(separator: "\n").map(String.init)
        let command = try #require(output.first?.dropFirst(2))
        let clang = try CCompiler().clang
        let compile = String(command.prefix { $0 != "&" }).trimmingCharacters(in: .whitespaces)
        let clangArguments = compile.split(separator: " ").dropFirst().map(String.init)
        let compiled = try Self.run(clang, clangArguments, in: package)
        #expect(compiled.status == 0, "clang failed: \(compiled.output)")

        let scratch = Self.checkout.appendingPathComponent(".build/embedding-example")
        let built = try Self.run(try #require(Self.swift), ["build", "--scratch-path", scratch.path], in: package)
        try #require(built.status == 0, "swift build of the README example failed:\n\(built.output.suffix(4000))")

        let ran = try Self.run(scratch.appendingPathComponent("debug/CountAllowed").path, [], in: package)
        #expect(ran.status == 0, "the README example failed: \(ran.output)")
        #expect(ran.output.split(separator: "\n").map(String.init) == Array(output.dropFirst()))
    }

    /// Runs `executable` in `directory`; standard output and error together.
    static func run(_ executable: String, _ arguments: [String], in directory: URL) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
