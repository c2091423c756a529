#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import BPFAssembler
import BPFISA

/// One `.data` file of the bpf_conformance corpus: a program (assembly text,
/// raw instruction bytes, or both), the memory it gets, and what it must give.
///
/// ```
/// # comments
/// -- asm
/// ldxh %r0, [%r1+2]
/// exit
/// -- mem
/// aa bb 11 22
/// -- result
/// 0x2211
/// ```
///
/// Sections: `-- asm`, `-- raw` (64-bit little-endian words `0x5566778800000018`
/// or byte lists `07 00 01 00 ...`, one instruction a line), `-- mem` (hex
/// bytes), `-- result` (expected r0: `0x` hexadecimal, otherwise decimal, as
/// the upstream runner reads it), `-- error` (an expected failure; its text,
/// possibly empty, is informational), and the informational `-- c` and
/// `-- no register offset`. Any other `--` line is an error, as is any text
/// before the first section other than `#` comments.
public struct ConformanceFile: Sendable, Hashable {
    /// What running the program must give.
    public enum Expectation: Sendable, Hashable {
        /// r0 on exit.
        case result(UInt64)
        /// The program must be rejected or fail; the text is upstream's hint, not a message to match.
        case error(String)
        /// The file states neither.
        case none
    }

    /// The name given to the parser; for `init(path:)`, the file name.
    public var name: String
    /// The path the file was read from, when it was read by `init(path:)`.
    public var path: String?
    /// The `-- asm` section's text, lines joined with newlines.
    public var asm: String?
    /// File line number of the first line of `asm`, so that an assembly error
    /// at line `n` of `asm` is at line `asmFirstLine + n - 1` of the file.
    public var asmFirstLine: Int
    /// The `-- raw` section's bytes.
    public var raw: [UInt8]?
    /// Input memory, passed to the program in r1 (its length in r2).
    public var memory: [UInt8]
    public var expected: Expectation
    /// The `-- c` section: the C source the program was compiled from, if given.
    public var cSource: String?
    /// The `-- no register offset` section's text, if present.
    public var noRegisterOffset: String?

    /// Parses a file's contents; `name` appears in errors.
    public init(contents: String, name: String) throws(ConformanceFileError) {
        self.name = name
        asmFirstLine = 0
        memory = []
        expected = .none
        var sections = SectionReader(file: name)
        try sections.read(contents)
        func text(_ section: String) -> String? {
            sections.lines[section].map { $0.map(\.text).joined(separator: "\n") }
        }
        if let header = sections.headers["asm"] {
            asm = text("asm")
            asmFirstLine = header + 1
        }
        if let lines = sections.lines["raw"] { raw = try Self.hexBytes(lines, section: "raw", file: name) }
        if let lines = sections.lines["mem"] { memory = try Self.hexBytes(lines, section: "mem", file: name) }
        cSource = text("c")
        noRegisterOffset = text("no register offset").map { Self.trimmed($0) }
        switch (sections.lines["result"], text("error")) {
        case (let result?, nil): expected = .result(try Self.result(result, file: name))
        case (nil, let error?): expected = .error(Self.trimmed(error))
        case (nil, nil): expected = .none
        case (_?, _?): throw ConformanceFileError(file: name, line: sections.headers["error"], reason: .conflictingExpectations)
        }
    }

    /// Reads and parses the file at `path`; its last path component becomes the name.
    public init(path: String) throws(ConformanceFileError) {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConformanceFileError(file: path, line: nil, reason: .unreadable("\(error)"))
        }
        do {
            try self.init(contents: String(decoding: data, as: UTF8.self), name: name)
        } catch {
            // Name the whole path in errors, so a runner over folders points at the file.
            throw ConformanceFileError(file: path, line: error.line, reason: error.reason)
        }
        self.path = path
    }

    /// The program: assembled from `-- asm`, or decoded from `-- raw`.
    ///
    /// When both are present (upstream's runner then uses `-- raw`), both are
    /// built and must give identical bytes, so a file cannot say one thing and
    /// test another. Assembly errors name the file's line.
    public func program() throws(ConformanceFileError) -> Program {
        var assembled: Program?
        if let asm {
            do {
                assembled = try Assembler.assemble(asm, name: name)
            } catch {
                var located = error
                located.line = asmFirstLine + error.line - 1
                throw ConformanceFileError(file: name, line: located.line, reason: .assembly(located))
            }
        }
        guard let raw else {
            guard let assembled else { throw ConformanceFileError(file: name, line: nil, reason: .noProgram) }
            return assembled
        }
        let decoded: Program
        do {
            decoded = try Program(bytes: raw, name: name)
        } catch {
            throw ConformanceFileError(file: name, line: nil, reason: .decoding(error))
        }
        if let assembled, assembled.raw != decoded.raw {
            let slot = zip(assembled.raw, decoded.raw).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                ?? min(assembled.raw.count, decoded.raw.count)
            throw ConformanceFileError(file: name, line: nil, reason: .asmDisagreesWithRaw(slot: slot))
        }
        return decoded
    }
}
