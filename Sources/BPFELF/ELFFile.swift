import BPFISA
import BPFMaps

/// A minimal ELF64 reader for relocatable BPF objects, little or big endian.
///
/// BPFKit reads ELF itself instead of linking libelf: the subset BPF objects
/// use (section headers, one symbol table, REL sections) is small, the code
/// has no dependency to install on every host, and every malformed field
/// becomes a typed `ELFError` naming it rather than a library's generic
/// failure (or worse, a crash on a corrupted file).
struct ELFFile {
    struct Section {
        let index: Int
        let name: String
        let type: UInt32
        let flags: UInt64
        let offset: Int
        let size: Int
        let link: Int
        let info: Int
        let entrySize: Int

        static let progbits: UInt32 = 1, symtab: UInt32 = 2, strtab: UInt32 = 3, rela: UInt32 = 4
        static let nobits: UInt32 = 8, rel: UInt32 = 9
        static let flagWrite: UInt64 = 1, flagAlloc: UInt64 = 2, flagExecute: UInt64 = 4

        var isExecutable: Bool { flags & Self.flagExecute != 0 }
    }

    struct Symbol {
        let index: Int
        let name: String
        let value: UInt64
        let size: UInt64
        let type: UInt8
        let binding: UInt8
        let sectionIndex: Int

        static let typeNoType: UInt8 = 0, typeObject: UInt8 = 1, typeFunction: UInt8 = 2, typeSection: UInt8 = 3
        static let bindLocal: UInt8 = 0, bindGlobal: UInt8 = 1, bindWeak: UInt8 = 2
    }

    struct Relocation {
        let offset: Int
        let symbol: Int
        let type: UInt32
    }

    static let machineBPF: UInt16 = 247

    let bytes: [UInt8]
    let byteOrder: ByteOrder
    let sections: [Section]
    let symbols: [Symbol]

    init(bytes: [UInt8]) throws(ELFError) {
        guard bytes.count >= 16 else { throw .notELF("\(bytes.count) bytes is shorter than an ELF identification") }
        guard bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46 else { throw .notELF("no ELF magic") }
        guard bytes[4] == 2 else { throw .notELF("ELF class \(bytes[4]); BPF objects are ELF64 (class 2)") }
        switch bytes[5] {
        case 1: byteOrder = .little
        case 2: byteOrder = .big
        default: throw .notELF("unknown data encoding \(bytes[5])")
        }
        self.bytes = bytes
        let file = ByteReader(bytes, byteOrder: byteOrder)
        let type = try file.u16(16, "e_type")
        guard type == 1 else { throw .notELF("e_type \(type); expected a relocatable object (1)") }
        let machine = try file.u16(18, "e_machine")
        guard machine == Self.machineBPF else { throw .wrongMachine(machine) }
        let sectionTable = try file.offset(40, "e_shoff")
        let entrySize = Int(try file.u16(58, "e_shentsize"))
        let sectionCount = Int(try file.u16(60, "e_shnum"))
        let namesIndex = Int(try file.u16(62, "e_shstrndx"))
        guard sectionCount > 0 else { throw .notELF("no section headers (or extended numbering, which BPF objects do not use)") }
        guard entrySize == 64 else { throw .notELF("section header size \(entrySize), expected 64") }
        guard namesIndex < sectionCount else { throw .notELF("section name table index \(namesIndex) ≥ \(sectionCount) sections") }

        // Raw headers first, names once the name table is known.
        var raw: [(name: Int, type: UInt32, flags: UInt64, offset: Int, size: Int, link: Int, info: Int, entsize: Int)] = []
        for i in 0..<sectionCount {
            let h = try file.slice(at: sectionTable + i * 64, count: 64, what: "section header \(i)")
            let type = try h.u32(4, "sh_type")
            let offset = try h.offset(24, "sh_offset"), size = try h.offset(32, "sh_size")
            if type != Section.nobits && type != 0 {
                try file.check(offset, size, "contents of section \(i)")
            }
            raw.append((Int(try h.u32(0, "sh_name")), type, try h.u64(8, "sh_flags"), offset, size,
                        Int(try h.u32(40, "sh_link")), Int(try h.u32(44, "sh_info")), try h.offset(56, "sh_entsize")))
        }
        let names = raw[namesIndex]
        let nameTable = try file.slice(at: names.offset, count: names.size, what: "section name table")
        var sections: [Section] = []
        for (i, r) in raw.enumerated() {
            let name = i == 0 ? "" : try nameTable.string(r.name, "name of section \(i)")
            sections.append(Section(index: i, name: name, type: r.type, flags: r.flags, offset: r.offset, size: r.size,
                                    link: r.link, info: r.info, entrySize: r.entsize))
        }
        self.sections = sections
        symbols = try Self.readSymbols(file, sections)
    }

    private static func readSymbols(_ file: ByteReader, _ sections: [Section]) throws(ELFError) -> [Symbol] {
        let tables = sections.filter { $0.type == Section.symtab }
        guard let table = tables.first else { throw .missingSection(".symtab", reason: "a BPF object needs a symbol table") }
        guard tables.count == 1 else { throw .contradiction("\(tables.count) symbol tables") }
        guard table.link > 0, table.link < sections.count, sections[table.link].type == Section.strtab else {
            throw .badSection(name: table.name, reason: "sh_link \(table.link) is not a string table")
        }
        let strings = try file.slice(at: sections[table.link].offset, count: sections[table.link].size, what: "symbol names")
        let reader = try file.slice(at: table.offset, count: table.size, what: "symbol table")
        guard table.size % 24 == 0 else { throw .badSection(name: table.name, reason: "size \(table.size) is not a multiple of 24") }
        var symbols: [Symbol] = []
        for i in 0..<table.size / 24 {
            let s = try reader.slice(at: i * 24, count: 24, what: "symbol \(i)")
            let info = try s.u8(4, "st_info")
            let shndx = Int(try s.u16(6, "st_shndx"))
            let name = try strings.string(Int(try s.u32(0, "st_name")), "name of symbol \(i)")
            // 0 is undefined, 0xff00... are reserved indices (ABS, COMMON): keep them, users check.
            if shndx != 0, shndx < 0xff00, shndx >= sections.count {
                throw .badSymbol(index: i, reason: "'\(name)' refers to section \(shndx) of \(sections.count)")
            }
            symbols.append(Symbol(index: i, name: name, value: try s.u64(8, "st_value"), size: try s.u64(16, "st_size"),
                                  type: info & 0xf, binding: info >> 4, sectionIndex: shndx))
        }
        return symbols
    }

    /// The bytes of a section (zeros for `.bss`-like NOBITS sections).
    func contents(_ section: Section) throws(ELFError) -> [UInt8] {
        if section.type == Section.nobits {
            guard section.size <= MapDefinition.maxValueSize else {
                throw .badSection(name: section.name, reason: "\(section.size) zero-filled bytes exceed the \(MapDefinition.maxValueSize)-byte limit of a global data map")
            }
            return Array(repeating: 0, count: section.size)
        }
        return try ByteReader(bytes, byteOrder: byteOrder).array(section.offset, section.size, "contents of '\(section.name)'")
    }

    /// A reader confined to a section's bytes.
    func reader(_ section: Section) throws(ELFError) -> ByteReader {
        try ByteReader(bytes, byteOrder: byteOrder).slice(at: section.offset, count: section.size, what: "section '\(section.name)'")
    }

    func section(named name: String) -> Section? { sections.first { $0.name == name } }

    /// The REL entries that apply to section `index` (SHT_REL with sh_info == index).
    func relocations(for index: Int) throws(ELFError) -> [Relocation] {
        var out: [Relocation] = []
        for section in sections where (section.type == Section.rel || section.type == Section.rela) && section.info == index {
            guard section.type == Section.rel else {
                throw .badSection(name: section.name, reason: "RELA relocations are not used by BPF objects")
            }
            guard section.size % 16 == 0 else { throw .badSection(name: section.name, reason: "size \(section.size) is not a multiple of 16") }
            let r = try reader(section)
            for i in 0..<section.size / 16 {
                let info = try r.u64(i * 16 + 8, "r_info")
                let symbol = Int(info >> 32)
                guard symbol < symbols.count else {
                    throw .badRelocation(section: sections[index].name, offset: Int(clamping: (try? r.u64(i * 16, "r_offset")) ?? 0),
                                         reason: "symbol \(symbol) out of range (\(symbols.count) symbols)")
                }
                let offset = try r.u64(i * 16, "r_offset")
                guard offset < UInt64(Int32.max) else {
                    throw .badRelocation(section: sections[index].name, offset: Int(Int32.max), reason: "offset out of range")
                }
                out.append(Relocation(offset: Int(offset), symbol: symbol, type: UInt32(truncatingIfNeeded: info)))
            }
        }
        return out.sorted { $0.offset < $1.offset }
    }
}
