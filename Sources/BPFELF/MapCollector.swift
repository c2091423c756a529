import BPFISA
import BPFMaps

/// The maps of an object and where their definitions sit, so that the
/// program linker can turn relocations into map indices.
struct CollectedMaps {
    var maps: [ObjectMap] = []
    /// Section index of `.maps` / `maps` and, per map defined there, (offset, map index).
    var definitionSections: [Int: [(offset: UInt64, index: Int)]] = [:]
    /// Section index -> map index, for global data sections.
    var dataSections: [Int: Int] = [:]
    /// Maps of types BPFKit lacks, by definition section: the programs that
    /// reference one cannot be loaded, the others can.
    var unsupported: [Int: [(offset: UInt64, name: String, type: UInt32)]] = [:]
}

/// Reads map definitions: BTF-defined (`.maps`), legacy (`maps`), global data.
struct MapCollector {
    let elf: ELFFile

    static let relocationABS64: UInt32 = 2

    func collect() throws(ELFError) -> CollectedMaps {
        var out = CollectedMaps()
        if let section = elf.section(named: ".maps") { try collectBTFMaps(section, into: &out) }
        if let section = elf.section(named: "maps") { try collectLegacyMaps(section, into: &out) }
        for section in elf.sections where Self.isGlobalData(section) {
            let readOnly = section.name.hasPrefix(".rodata")
            let data = try elf.contents(section)
            let definition = MapDefinition(name: section.name, type: .array, keySize: 4, valueSize: section.size, maxEntries: 1,
                                           flags: readOnly ? [.readOnlyProgram, .mmapable] : [.mmapable])
            out.dataSections[section.index] = out.maps.count
            out.maps.append(ObjectMap(definition: definition, origin: .globalData(section: section.name), initialData: data, initialSlots: []))
        }
        var seen: Set<String> = []
        for map in out.maps where !seen.insert(map.name).inserted {
            throw .contradiction("map '\(map.name)' is defined twice")
        }
        return out
    }

    /// `.data`, `.rodata`, `.bss` and their suffixed variants (`.rodata.str1.1`), when allocated and non-empty.
    static func isGlobalData(_ section: ELFFile.Section) -> Bool {
        guard section.flags & ELFFile.Section.flagAlloc != 0, !section.isExecutable, section.size > 0 else { return false }
        return [".data", ".rodata", ".bss"].contains { section.name == $0 || section.name.hasPrefix($0 + ".") }
    }

    private func symbols(in section: ELFFile.Section) -> [ELFFile.Symbol] {
        elf.symbols.filter { $0.sectionIndex == section.index && $0.type != ELFFile.Symbol.typeSection && !$0.name.isEmpty }
            .sorted { $0.value < $1.value }
    }

    // MARK: Legacy `struct bpf_map_def` maps

    private func collectLegacyMaps(_ section: ELFFile.Section, into out: inout CollectedMaps) throws(ELFError) {
        let symbols = symbols(in: section)
        guard !symbols.isEmpty else { return }
        guard section.size % symbols.count == 0, section.size / symbols.count >= 20 else {
            throw .badSection(name: "maps", reason: "\(section.size) bytes do not split into \(symbols.count) bpf_map_def entries of at least 20 bytes")
        }
        let size = section.size / symbols.count
        let reader = try elf.reader(section)
        for symbol in symbols {
            guard symbol.value % UInt64(size) == 0, symbol.value < UInt64(section.size) else {
                throw .badMap(name: symbol.name, reason: "offset \(symbol.value) is not a bpf_map_def boundary")
            }
            let at = Int(symbol.value)
            let rawType = try reader.u32(at, "bpf_map_def.type")
            guard let type = MapType(rawValue: rawType) else {
                out.unsupported[section.index, default: []].append((symbol.value, symbol.name, rawType))
                continue
            }
            let definition = MapDefinition(
                name: symbol.name, type: type, keySize: Int(try reader.u32(at + 4, "bpf_map_def.key_size")),
                valueSize: Int(try reader.u32(at + 8, "bpf_map_def.value_size")),
                maxEntries: Int(try reader.u32(at + 12, "bpf_map_def.max_entries")),
                flags: MapFlags(rawValue: try reader.u32(at + 16, "bpf_map_def.map_flags")))
            out.definitionSections[section.index, default: []].append((symbol.value, out.maps.count))
            out.maps.append(ObjectMap(definition: definition, origin: .legacy, initialData: nil, initialSlots: []))
        }
    }


    // MARK: BTF-defined maps

    private func collectBTFMaps(_ section: ELFFile.Section, into out: inout CollectedMaps) throws(ELFError) {
        guard let btfSection = elf.section(named: ".BTF") else {
            throw .missingSection(".BTF", reason: "maps in '.maps' are described by BTF; compile with -g")
        }
        let btf = try BTF(try elf.reader(btfSection))
        guard let datasec = btf.dataSection(named: ".maps") else {
            throw .badBTF("no DATASEC '.maps' describing the maps section")
        }
        let symbols = symbols(in: section)
        var found: [(offset: UInt64, map: ObjectMap, valuesOffset: Int?)] = []
        for variable in datasec.variables {
            let v = try btf.type(variable.type)
            guard v.kind == .variable else { throw .badBTF("'.maps' entry \(variable.type) is a \(v.kind), not a variable") }
            let offset = symbols.first { $0.name == v.name }?.value ?? UInt64(variable.offset)
            guard offset < UInt64(section.size) else {
                throw .badMap(name: v.name, reason: "offset \(offset) is outside '.maps' (\(section.size) bytes)")
            }
            let definition: MapDefinition, valuesOffset: Int?
            do {
                (definition, valuesOffset) = try readDefinition(name: v.name, type: v.sizeOrType, btf: btf)
            } catch {
                guard case .unsupportedMap(let name, let type) = error else { throw error }
                out.unsupported[section.index, default: []].append((offset, name, type))
                continue
            }
            found.append((offset, ObjectMap(definition: definition, origin: .btf, initialData: nil, initialSlots: []), valuesOffset))
        }
        found.sort { $0.offset < $1.offset }
        let relocations = try elf.relocations(for: section.index)
        // A definition ends where the next one (of any type) starts.
        let starts = (found.map(\.offset) + (out.unsupported[section.index] ?? []).map(\.offset)).sorted()
        for (offset, var map, valuesOffset) in found {
            let end = starts.first { $0 > offset } ?? UInt64(section.size)
            var slots: [ObjectMap.InitialSlot] = []
            for relocation in relocations where UInt64(relocation.offset) >= offset && UInt64(relocation.offset) < end {
                guard relocation.type == Self.relocationABS64 else {
                    throw .badRelocation(section: ".maps", offset: relocation.offset, reason: "type \(relocation.type) in a map definition; expected R_BPF_64_ABS64 (2)")
                }
                guard let valuesOffset, relocation.offset - Int(offset) >= valuesOffset,
                      (relocation.offset - Int(offset) - valuesOffset) % 8 == 0 else {
                    throw .badRelocation(section: ".maps", offset: relocation.offset, reason: "map '\(map.name)': relocation outside its 'values' array")
                }
                let target = elf.symbols[relocation.symbol]
                let index = (relocation.offset - Int(offset) - valuesOffset) / 8
                guard index < map.definition.maxEntries else {
                    throw .badMap(name: map.name, reason: "initial value for slot \(index) beyond max_entries \(map.definition.maxEntries)")
                }
                if target.type == ELFFile.Symbol.typeFunction {
                    slots.append(.init(index: index, target: .program(target.name)))
                } else if target.sectionIndex == section.index {
                    slots.append(.init(index: index, target: .map(target.name)))
                } else {
                    throw .badRelocation(section: ".maps", offset: relocation.offset, reason: "map '\(map.name)' slot \(index) refers to '\(target.name)', neither a program nor a map")
                }
            }
            if !slots.isEmpty {
                map = ObjectMap(definition: map.definition, origin: .btf, initialData: nil, initialSlots: slots)
            }
            out.definitionSections[section.index, default: []].append((offset, out.maps.count))
            out.maps.append(map)
        }
    }

    /// Reads the anonymous struct behind a `.maps` variable, the way libbpf's
    /// `parse_btf_map_def` does: `__uint(name, n)` is `int (*name)[n]`,
    /// `__type(name, T)` is `T *name`, `__array(values, T)` is `T *values[]`.
    private func readDefinition(name: String, type: UInt32, btf: BTF) throws(ELFError) -> (MapDefinition, Int?) {
        func bad(_ reason: String) -> ELFError { .badMap(name: name, reason: reason) }
        let (_, structure) = try btf.resolve(type)
        guard structure.kind == .structure else { throw bad("definition is a \(structure.kind), not a struct") }
        var mapType: UInt32?, keySize: Int?, valueSize: Int?, maxEntries = 0, flags: UInt32 = 0
        var valuesOffset: Int?
        var valuesMember: BTF.Member?
        func number(_ member: BTF.Member) throws(ELFError) -> UInt32 {
            let (_, pointer) = try btf.resolve(member.type)
            guard pointer.kind == .pointer else { throw bad("'\(member.name)' is not declared with __uint()") }
            let (_, array) = try btf.resolve(pointer.sizeOrType)
            guard array.kind == .array, let count = array.array?.count else { throw bad("'\(member.name)' is not declared with __uint()") }
            return count
        }
        func pointee(_ member: BTF.Member) throws(ELFError) -> Int {
            let (_, pointer) = try btf.resolve(member.type)
            guard pointer.kind == .pointer else { throw bad("'\(member.name)' is not declared with __type()") }
            return try btf.size(of: pointer.sizeOrType)
        }
        func agree(_ old: Int?, _ new: Int, _ what: String) throws(ELFError) -> Int {
            if let old, old != new { throw bad("\(what) given twice and differently (\(old) and \(new))") }
            return new
        }
        for member in structure.members {
            switch member.name {
            case "type": mapType = try number(member)
            case "max_entries": maxEntries = Int(try number(member))
            case "map_flags": flags = try number(member)
            case "key_size": keySize = try agree(keySize, Int(try number(member)), "key size")
            case "value_size": valueSize = try agree(valueSize, Int(try number(member)), "value size")
            case "key": keySize = try agree(keySize, try pointee(member), "key size")
            case "value": valueSize = try agree(valueSize, try pointee(member), "value size")
            case "values":
                guard member.bitOffset % 64 == 0 else { throw bad("'values' is not 8-byte aligned") }
                valuesOffset = Int(member.bitOffset / 8)
                valuesMember = member
            case "pinning", "numa_node", "map_extra":
                break // Meaningless inside one process; accepted so kernel sources load unchanged.
            default:
                throw bad("unknown field '\(member.name)' in the map definition")
            }
        }
        guard let mapType else { throw bad("no map type (__uint(type, ...))") }
        guard let type = MapType(rawValue: mapType) else { throw .unsupportedMap(name: name, type: mapType) }
        // Program arrays hold 4-byte descriptors; __array(values, ...) implies both sizes.
        if type == .programArray { keySize = keySize ?? 4; valueSize = valueSize ?? 4 }
        var template: MapDefinition?
        if type.isMapOfMaps {
            // Values are map descriptors; `__array(values, struct inner)` is `struct inner *values[]`,
            // whose pointee is the inner map's definition (libbpf's inner map template).
            valueSize = valueSize ?? 4
            if type == .arrayOfMaps { keySize = keySize ?? 4 }
            if let valuesMember {
                let (_, array) = try btf.resolve(valuesMember.type)
                guard array.kind == .array, let element = array.array?.element else { throw bad("'values' is not declared with __array()") }
                let (_, pointer) = try btf.resolve(element)
                guard pointer.kind == .pointer else { throw bad("'values' elements are not pointers to an inner map definition") }
                template = try readDefinition(name: name + ".inner", type: pointer.sizeOrType, btf: btf).0
            }
        }
        return (MapDefinition(name: name, type: type, keySize: keySize ?? 0, valueSize: valueSize ?? 0,
                              maxEntries: maxEntries, flags: MapFlags(rawValue: flags), innerTemplate: template), valuesOffset)
    }
}
