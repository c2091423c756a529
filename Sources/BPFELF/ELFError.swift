import BPFISA
import BPFMaps

/// Why bytes are not a loadable BPF object. Every case names the part of the
/// file that is wrong (section, symbol, map, instruction, byte offset), so a
/// user can find it with `llvm-readelf` or `llvm-objdump`.
public enum ELFError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A read ran past the end of the file or of a section.
    case truncated(what: String, offset: Int, needed: Int, available: Int)
    /// Not an ELF file, or a kind of ELF file BPFKit does not read.
    case notELF(String)
    /// The ELF machine is not BPF (247).
    case wrongMachine(UInt16)
    /// A section header makes no sense (overlaps the end, bad link, ...).
    case badSection(name: String, reason: String)
    /// A symbol table entry makes no sense.
    case badSymbol(index: Int, reason: String)
    /// A section this object needs is missing (e.g. `.BTF` for `.maps`).
    case missingSection(String, reason: String)
    /// A relocation BPFKit cannot apply.
    case badRelocation(section: String, offset: Int, reason: String)
    /// A relocation type that does not exist for BPF (or is not handled).
    case unknownRelocationType(section: String, offset: Int, type: UInt32)
    /// The BPF Type Format data is malformed.
    case badBTF(String)
    /// A map definition BPFKit cannot read.
    case badMap(name: String, reason: String)
    /// The instructions of a program do not decode.
    case badProgram(name: String, ISAError)
    /// A map of a type BPFKit does not implement. The object still loads: the
    /// error belongs to the programs that use the map (`ObjectFile.unloadablePrograms`).
    case unsupportedMap(name: String, type: UInt32)
    /// Two parts of the file disagree (two symbol tables, a map defined twice, ...).
    case contradiction(String)

    public var description: String {
        switch self {
        case .truncated(let what, let offset, let needed, let available):
            "truncated file: \(what) needs \(needed) bytes at offset \(offset), only \(max(0, available - offset)) there"
        case .notELF(let why): "not a BPF ELF object: \(why)"
        case .wrongMachine(let machine): "ELF machine is \(machine), not BPF (247); compile with clang -target bpf"
        case .badSection(let name, let reason): "section '\(name)': \(reason)"
        case .badSymbol(let index, let reason): "symbol \(index): \(reason)"
        case .missingSection(let name, let reason): "missing section '\(name)': \(reason)"
        case .badRelocation(let section, let offset, let reason):
            "relocation at offset \(offset) of section '\(section)': \(reason)"
        case .unknownRelocationType(let section, let offset, let type):
            "relocation at offset \(offset) of section '\(section)': unknown BPF relocation type \(type)"
        case .badBTF(let why): "BTF: \(why)"
        case .badMap(let name, let reason): "map '\(name)': \(reason)"
        case .badProgram(let name, let error): "program '\(name)': \(error)"
        case .unsupportedMap(let name, let type):
            "map '\(name)' has type \(type)\(MapType.kernelName(type).map { " (\($0))" } ?? ""), which BPFKit does not support; it has "
                + MapType.allCases.map { "\($0)" }.joined(separator: ", ")
        case .contradiction(let why): "inconsistent object: \(why)"
        }
    }
}
