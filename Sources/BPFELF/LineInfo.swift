import BPFISA

/// A C source line an instruction was compiled from, as the object's BTF line
/// information (`.BTF.ext`) records it: the file, the line, and the line's text.
public struct SourceLine: Sendable, Hashable, CustomStringConvertible {
    /// The file as clang named it (usually the path given on its command line).
    public let file: String
    public let line: Int
    public let column: Int
    /// The line's text, trimmed (clang stores it in the object).
    public let text: String

    public init(file: String, line: Int, column: Int, text: String) {
        self.file = file
        self.line = line
        self.column = column
        self.text = text
    }

    /// `xdp_prog.c:42: if (ip->ttl ...)`: the file's last path component, the line and its text.
    public var description: String {
        let name = file.split(separator: "/").last.map(String.init) ?? file
        return text.isEmpty ? "\(name):\(line)" : "\(name):\(line): \(text)"
    }
}

/// Source lines by instruction, for each executable section of an object
/// (`.BTF.ext`'s line_info records, resolved against `.BTF`'s strings).
///
/// Line information is for messages only: a malformed or missing `.BTF.ext`
/// yields no lines, never a load error.
struct LineInfo {
    /// Section name -> (instruction slot in the section -> line).
    let sections: [String: [Int: SourceLine]]

    static let empty = LineInfo(sections: [:])

    init(sections: [String: [Int: SourceLine]]) { self.sections = sections }

    init(elf: ELFFile) {
        guard let btfSection = elf.section(named: ".BTF"), let extSection = elf.section(named: ".BTF.ext"),
              let btf = try? elf.reader(btfSection), let ext = try? elf.reader(extSection),
              let parsed = try? Self.parse(btf: btf, ext: ext) else {
            self = .empty
            return
        }
        self = parsed
    }

    private static func parse(btf: ByteReader, ext: ByteReader) throws(ELFError) -> LineInfo {
        guard try btf.u16(0, "BTF magic") == BTF.magic, try ext.u16(0, "BTF.ext magic") == BTF.magic else { return .empty }
        let btfHeader = Int(try btf.u32(4, "hdr_len"))
        let strings = try btf.slice(at: btfHeader + Int(try btf.u32(16, "str_off")), count: Int(try btf.u32(20, "str_len")),
                                    what: "BTF strings")
        let extHeader = Int(try ext.u32(4, "BTF.ext hdr_len"))
        guard extHeader >= 24 else { return .empty }
        let lineOffset = Int(try ext.u32(16, "line_info_off")), lineLength = Int(try ext.u32(20, "line_info_len"))
        guard lineLength >= 4 else { return .empty }
        let lines = try ext.slice(at: extHeader + lineOffset, count: lineLength, what: "BTF.ext line_info")
        let recordSize = Int(try lines.u32(0, "line_info rec_size"))
        guard recordSize >= 16 else { return .empty }
        var sections: [String: [Int: SourceLine]] = [:]
        var at = 4
        while at + 8 <= lines.count {
            let section = try strings.string(Int(try lines.u32(at, "line_info sec_name_off")), "line_info section name")
            let count = Int(try lines.u32(at + 4, "line_info num_info"))
            at += 8
            guard count >= 0, at + count * recordSize <= lines.count else { break }
            var bySlot = sections[section, default: [:]]
            for record in 0..<count {
                let base = at + record * recordSize
                let offset = Int(try lines.u32(base, "insn_off"))
                let file = try strings.string(Int(try lines.u32(base + 4, "file_name_off")), "line_info file name")
                let text = try strings.string(Int(try lines.u32(base + 8, "line_off")), "line_info line")
                let lineColumn = try lines.u32(base + 12, "line_col")
                bySlot[offset / 8] = SourceLine(file: file, line: Int(lineColumn >> 10), column: Int(lineColumn & 0x3ff),
                                                text: text.trimmingWhitespace())
            }
            sections[section] = bySlot
            at += count * recordSize
        }
        return LineInfo(sections: sections)
    }

    /// The line of each slot of a program built from `range` of `section`,
    /// with `.text` appended at `textBase` when it was; a slot without a
    /// record of its own has the line of the nearest record before it
    /// within the same function.
    func lines(section: String, range: Range<Int>, textBase: Int?) -> [Int: SourceLine] {
        var out: [Int: SourceLine] = [:]
        if let own = sections[section] {
            for (slot, line) in own where range.contains(slot) { out[slot - range.lowerBound] = line }
        }
        if let textBase, let text = sections[".text"] {
            for (slot, line) in text { out[textBase + slot] = line }
        }
        return out
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}

extension ObjectProgram {
    /// The source line of instruction `pc`: its own record, else the nearest
    /// one before it (clang records a line where it starts, not at every instruction).
    public func sourceLine(at pc: Int) -> SourceLine? {
        var pc = pc
        while pc >= 0 {
            if let line = lines[pc] { return line }
            pc -= 1
        }
        return nil
    }
}
