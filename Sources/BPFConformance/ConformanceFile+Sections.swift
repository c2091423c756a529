import BPFISA

/// One line of a section, with its line number in the file.
struct NumberedLine {
    var number: Int
    var text: Substring
}

/// Splits a `.data` file into its sections, checking the section names.
struct SectionReader {
    static let known: Set<String> = ["asm", "raw", "mem", "result", "error", "c", "no register offset"]

    let file: String
    /// Lines of each section present, by section name.
    var lines: [String: [NumberedLine]] = [:]
    /// File line number of each section's `--` line.
    var headers: [String: Int] = [:]

    init(file: String) { self.file = file }

    mutating func read(_ contents: String) throws(ConformanceFileError) {
        var current: String?
        // "\r\n" is one Character in Swift: split on every kind of line break.
        for (index, line) in contents.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let number = index + 1
            if line.hasPrefix("--") {
                let name = ConformanceFile.trimmed(String(line.dropFirst(2)))
                guard Self.known.contains(name) else {
                    throw ConformanceFileError(file: file, line: number, reason: .unknownSection(name))
                }
                guard headers[name] == nil else {
                    throw ConformanceFileError(file: file, line: number, reason: .duplicateSection(name))
                }
                headers[name] = number
                lines[name] = []
                current = name
            } else if let current {
                lines[current, default: []].append(NumberedLine(number: number, text: line))
            } else {
                let text = ConformanceFile.trimmed(String(line))
                guard text.isEmpty || text.hasPrefix("#") else {
                    throw ConformanceFileError(file: file, line: number, reason: .textOutsideSection(text))
                }
            }
        }
    }
}

extension ConformanceFile {
    static func trimmed(_ s: String) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let start = s.firstIndex(where: { !isSpace($0) }), let end = s.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(s[start...end])
    }

    /// Hex bytes of `-- raw` or `-- mem`, whitespace-separated; `-- raw` also
    /// takes `0x` 64-bit words, each the little-endian form of one slot.
    /// Blank lines and `#` lines are skipped.
    static func hexBytes(_ lines: [NumberedLine], section: String, file: String) throws(ConformanceFileError) -> [UInt8] {
        var bytes: [UInt8] = []
        for line in lines {
            let text = trimmed(String(line.text))
            guard !text.isEmpty, !text.hasPrefix("#") else { continue }
            for token in text.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                let hasPrefix = token.hasPrefix("0x") || token.hasPrefix("0X")
                let digits = hasPrefix ? token.dropFirst(2) : token
                let isWord = section == "raw" && hasPrefix && digits.count > 2
                guard !digits.isEmpty, digits.count <= (isWord ? 16 : 2), let value = UInt64(digits, radix: 16) else {
                    throw ConformanceFileError(file: file, line: line.number, reason: .badHex(section: section, token: String(token)))
                }
                if isWord {
                    bytes += (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
                } else {
                    bytes.append(UInt8(value))
                }
            }
        }
        return bytes
    }

    /// The one value of `-- result`: hexadecimal with `0x`, otherwise decimal
    /// (upstream's rule, under which the corpus's bare `0` is zero).
    static func result(_ lines: [NumberedLine], file: String) throws(ConformanceFileError) -> UInt64 {
        let values = lines.map { (line: $0.number, text: trimmed(String($0.text))) }.filter { !$0.text.isEmpty }
        guard values.count == 1, let only = values.first else {
            throw ConformanceFileError(file: file, line: values.dropFirst().first?.line ?? lines.first?.number,
                                       reason: .badResult(values.map(\.text).joined(separator: " ")))
        }
        let text = only.text
        let parsed = text.hasPrefix("0x") || text.hasPrefix("0X")
            ? UInt64(text.dropFirst(2), radix: 16)
            : UInt64(text, radix: 10)
        guard let parsed else { throw ConformanceFileError(file: file, line: only.line, reason: .badResult(text)) }
        return parsed
    }
}
