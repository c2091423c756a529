import BPFISA
import BPFMaps

/// A program found in an object: one function of an executable section, with
/// the `.text` subprograms it calls appended and every relocation applied.
///
/// Map references are `.loadImmediate64(dst, .mapByIndex(i))` and global data
/// references `.mapValueByIndex(index: i, offset:)`, where `i` indexes
/// `ObjectFile.maps`; the loader turns them into host values.
public struct ObjectProgram: Sendable, Hashable {
    /// The function's name (`--program`).
    public let name: String
    /// The ELF section it came from, as `SEC("...")` named it (`--section`).
    public let section: String
    public let program: Program
    /// Slot where the appended `.text` subprograms start, if any were needed.
    public let subprogramsStart: Int?
    /// C source lines by slot, from the object's BTF line information
    /// (`.BTF.ext`), where clang recorded one; see `sourceLine(at:)`.
    public var lines: [Int: SourceLine] = [:]
    /// Instructions whose CO-RE relocation could not be resolved against the
    /// target types, by slot: each is now `call 0xbad2310` (as libbpf
    /// poisons them), harmless where no path reaches it.
    public var poisoned: [Int: PoisonedInstruction] = [:]
}

/// A function of a program section that cannot be a program in BPFKit: it
/// uses something BPFKit lacks (a map type, a kfunc, a callback) or its code
/// is malformed. The rest of the object loads; choosing this program fails
/// with `reason`, as libbpf would fail loading it.
public struct UnloadableProgram: Sendable, Hashable {
    public let name: String
    public let section: String
    public let reason: ELFError
}

/// A map an object defines: in `.maps` (BTF), in a legacy `maps` section
/// (`struct bpf_map_def`), or implicitly by a global data section.
public struct ObjectMap: Sendable, Hashable {
    public enum Origin: Sendable, Hashable {
        case btf
        case legacy
        /// `.data`, `.rodata`, `.bss`, `.rodata.str1.1`, ...: a one-element array holding the section.
        case globalData(section: String)
    }

    /// A slot of a map-of-programs (or map-of-maps) initialised statically
    /// with `__array(values, ...)`, as libbpf fills it at load time.
    public struct InitialSlot: Sendable, Hashable {
        public enum Target: Sendable, Hashable {
            case program(String)
            case map(String)
        }
        public let index: Int
        public let target: Target
    }

    public let definition: MapDefinition
    public let origin: Origin
    /// The initial value of a global data map (the section's bytes; zeros for `.bss`).
    public let initialData: [UInt8]?
    public let initialSlots: [InitialSlot]

    public var name: String { definition.name }
}

/// A relocatable BPF object as `clang -O2 -g -target bpf -c` (or `bpfeb`) writes
/// it, read into programs, maps and global data. Pure description: nothing is
/// instantiated here (see `BPFLoader`).
public struct ObjectFile: Sendable {
    /// Byte order of the object (`-target bpfel` or `bpfeb`).
    public let byteOrder: ByteOrder
    /// Programs: the global functions of executable sections other than `.text`,
    /// in section order; when there are none, the global functions of `.text`.
    public let programs: [ObjectProgram]
    /// Functions of program sections that cannot be loaded, with the reason
    /// (reported when one of them is chosen).
    public let unloadablePrograms: [UnloadableProgram]
    public let maps: [ObjectMap]
    /// The `license` section's string (`"GPL"`, ...), if present.
    public let license: String?
    /// Function names by BTF type id: a kfunc call (`call` with src 2)
    /// holds the id of the function it calls, an `extern ... __ksym`
    /// declaration of the object's BTF.
    public let btfFunctionNames: [Int32: String]

    /// `coreTarget`: what CO-RE relocations (`__builtin_preserve_access_index`,
    /// `bpf_core_field_exists`, ...) resolve against; asked only when the
    /// object has some.
    public init(bytes: [UInt8], coreTarget: CORETarget = .objectTypes) throws(ELFError) {
        let elf = try ELFFile(bytes: bytes)
        byteOrder = elf.byteOrder
        if let section = elf.section(named: "license") {
            license = try elf.reader(section).string(0, "license string")
        } else {
            license = nil
        }
        let collected = try MapCollector(elf: elf).collect()
        maps = collected.maps
        var functions: [Int32: String] = [:]
        if let section = elf.section(named: ".BTF"), let btf = try? BTF(try elf.reader(section)) {
            for (id, type) in btf.types.enumerated() where type?.kind == .function { functions[Int32(id)] = type?.name }
        }
        btfFunctionNames = functions
        let ids = Dictionary(functions.map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        (programs, unloadablePrograms) = try ProgramLinker(elf: elf, maps: collected, core: try COREContext(elf: elf, target: coreTarget), btfFunctions: ids).link()
        let names = Set(programs.map(\.name) + unloadablePrograms.map(\.name))
        for map in maps {
            for slot in map.initialSlots {
                if case .program(let name) = slot.target, !names.contains(name) {
                    throw .badMap(name: map.name, reason: "slot \(slot.index) names '\(name)', which is not a program of this object")
                }
            }
        }
    }

    /// The program whose function is named `name`.
    public func program(named name: String) -> ObjectProgram? { programs.first { $0.name == name } }

    /// Programs of a section, in order.
    public func programs(inSection section: String) -> [ObjectProgram] { programs.filter { $0.section == section } }

    /// Index in `maps` of the map named `name`.
    public func mapIndex(named name: String) -> Int? { maps.firstIndex { $0.name == name } }
}
