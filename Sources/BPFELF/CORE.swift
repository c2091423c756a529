import BPFISA

/// The types CO-RE relocations are resolved against: a kernel's BTF
/// (`/sys/kernel/btf/vmlinux`, raw BTF) or the `.BTF` section of an ELF file.
public struct TargetBTF: Sendable {
    let btf: BTF
    /// Named types by essential name (the name with a `___flavor` suffix removed).
    let byEssentialName: [String: [UInt32]]
    /// Where the types came from, for messages.
    public let origin: String

    /// Raw BTF (either byte order, as `/sys/kernel/btf/vmlinux` holds it) or
    /// an ELF object whose `.BTF` section is taken.
    public init(bytes: [UInt8], origin: String) throws(ELFError) {
        if bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46]) {
            let elf = try ELFFile(bytes: bytes)
            guard let section = elf.section(named: ".BTF") else {
                throw .missingSection(".BTF", reason: "\(origin) is an ELF file without BTF types (compile with -g)")
            }
            self.init(btf: try BTF(try elf.reader(section)), origin: origin)
            return
        }
        guard bytes.count >= 2 else { throw .badBTF("\(origin): too short for BTF") }
        let order: ByteOrder = bytes[0] == 0x9f && bytes[1] == 0xeb ? .little : .big
        self.init(btf: try BTF(ByteReader(bytes, byteOrder: order)), origin: origin)
    }

    init(btf: BTF, origin: String) {
        self.btf = btf
        self.origin = origin
        var index: [String: [UInt32]] = [:]
        for (id, type) in btf.types.enumerated() {
            guard let type, !type.name.isEmpty else { continue }
            index[CORE.essentialName(type.name), default: []].append(UInt32(id))
        }
        byEssentialName = index
    }

    /// Number of types (without `void`).
    public var typeCount: Int { btf.types.count - 1 }
}

/// What CO-RE relocations of an object are resolved against.
public struct CORETarget: Sendable {
    let provide: @Sendable () throws(ELFError) -> TargetBTF?

    /// The object's own types (programs whose types are their own, as in userspace).
    public static let objectTypes = CORETarget { () throws(ELFError) in nil }

    /// These types.
    public static func btf(_ target: TargetBTF) -> CORETarget { CORETarget { () throws(ELFError) in target } }

    /// Types found only if the object has CO-RE relocations (`provide` runs at
    /// most once per object); nil falls back to the object's own types.
    public static func lazy(_ provide: @escaping @Sendable () throws(ELFError) -> TargetBTF?) -> CORETarget {
        CORETarget(provide: provide)
    }
}

/// The kinds of `struct bpf_core_relo` (libbpf's `enum bpf_core_relo_kind`).
public enum CORERelocationKind: UInt32, Sendable, CustomStringConvertible {
    case fieldByteOffset = 0, fieldByteSize, fieldExists, fieldSigned, fieldLShiftU64, fieldRShiftU64
    case typeIDLocal, typeIDTarget, typeExists, typeSize, enumValueExists, enumValue, typeMatches

    var isFieldBased: Bool { rawValue <= 5 }
    var isTypeBased: Bool { (6...9).contains(rawValue) || self == .typeMatches }
    var isEnumBased: Bool { self == .enumValueExists || self == .enumValue }

    public var description: String {
        switch self {
        case .fieldByteOffset: "byte_off"
        case .fieldByteSize: "byte_sz"
        case .fieldExists: "field_exists"
        case .fieldSigned: "signed"
        case .fieldLShiftU64: "lshift_u64"
        case .fieldRShiftU64: "rshift_u64"
        case .typeIDLocal: "local_type_id"
        case .typeIDTarget: "target_type_id"
        case .typeExists: "type_exists"
        case .typeSize: "type_size"
        case .enumValueExists: "enumval_exists"
        case .enumValue: "enumval_value"
        case .typeMatches: "type_matches"
        }
    }
}

/// An instruction a CO-RE relocation could not be resolved for: as libbpf
/// does, it became `call 0xbad2310`, harmless if no path reaches it.
public struct PoisonedInstruction: Sendable, Hashable, CustomStringConvertible {
    /// The relocation, as `CO-RE relocation #3 (byte_off) of struct foo.bar (access 0:1)`.
    public let relocation: String
    /// Why it could not be resolved.
    public let reason: String

    public var description: String { "\(relocation) could not be resolved: \(reason)" }

    /// The helper number libbpf writes into poisoned instructions.
    public static let helperID: Int32 = 0xbad2310
}

/// CO-RE (compile once, run everywhere) relocations, resolved as libbpf's
/// `relo_core.c` does: the local type's access path (`0:1:2`, struct
/// members and array indices) is matched by name against candidate target
/// types of the same kind and essential name, and the instruction gets the
/// target's offset, size, existence, type id or enum value.
enum CORE {
    /// One `struct bpf_core_relo`.
    struct Record {
        let index: Int
        let instructionOffset: Int
        let typeID: UInt32
        let access: String
        let kind: CORERelocationKind
    }

    /// What resolving one section's relocations gives: slots patched in
    /// place, slots poisoned, and relocations that are errors (the object is
    /// inconsistent) by slot.
    struct SectionResult {
        var poisoned: [Int: PoisonedInstruction] = [:]
        var errors: [Int: ELFError] = [:]
    }

    /// `name` without a `___flavor` suffix (libbpf's `bpf_core_essential_name_len`:
    /// the last `X___Y` with X and Y not underscores).
    static func essentialName(_ name: String) -> String {
        let bytes = Array(name.utf8)
        let n = bytes.count
        let underscore = UInt8(ascii: "_")
        var i = n - 5
        while i >= 0 {
            if bytes[i] != underscore && bytes[i + 1] == underscore && bytes[i + 2] == underscore && bytes[i + 3] == underscore
                && bytes[i + 4] != underscore {
                return String(decoding: bytes[0...i], as: UTF8.self)
            }
            i -= 1
        }
        return name
    }

    /// The `core_relo` records of `.BTF.ext`, by section name.
    static func records(btf: ByteReader, ext: ByteReader) throws(ELFError) -> [String: [Record]] {
        guard try ext.u16(0, "BTF.ext magic") == BTF.magic else { throw .badBTF(".BTF.ext: bad magic") }
        let header = Int(try ext.u32(4, "BTF.ext hdr_len"))
        guard header >= 32 else { return [:] }
        let offset = Int(try ext.u32(24, "core_relo_off")), length = Int(try ext.u32(28, "core_relo_len"))
        guard length > 0 else { return [:] }
        let btfHeader = Int(try btf.u32(4, "hdr_len"))
        let strings = try btf.slice(at: btfHeader + Int(try btf.u32(16, "str_off")), count: Int(try btf.u32(20, "str_len")),
                                    what: "BTF strings")
        let data = try ext.slice(at: header + offset, count: length, what: "BTF.ext core_relo")
        let recordSize = Int(try data.u32(0, "core_relo rec_size"))
        guard recordSize >= 16 else { throw .badBTF(".BTF.ext core_relo record size \(recordSize) < 16") }
        var out: [String: [Record]] = [:]
        var at = 4, index = 0
        while at < data.count {
            let section = try strings.string(Int(try data.u32(at, "core_relo sec_name_off")), "core_relo section name")
            let count = Int(try data.u32(at + 4, "core_relo num_info"))
            at += 8
            guard count <= (data.count - at) / recordSize else { throw .badBTF(".BTF.ext core_relo for '\(section)' runs past its end") }
            for record in 0..<count {
                let base = at + record * recordSize
                let rawKind = try data.u32(base + 12, "bpf_core_relo.kind")
                guard let kind = CORERelocationKind(rawValue: rawKind) else {
                    throw .badBTF(".BTF.ext core_relo #\(index): unknown kind \(rawKind)")
                }
                out[section, default: []].append(Record(
                    index: index, instructionOffset: Int(try data.u32(base, "bpf_core_relo.insn_off")),
                    typeID: try data.u32(base + 4, "bpf_core_relo.type_id"),
                    access: try strings.string(Int(try data.u32(base + 8, "bpf_core_relo.access_str_off")), "core_relo access string"),
                    kind: kind))
                index += 1
            }
            at += count * recordSize
        }
        return out
    }

    // MARK: Specs

    struct Accessor {
        var typeID: UInt32
        var index: Int
        var name: String?
    }

    /// An access path resolved in one BTF (libbpf's `bpf_core_spec`).
    struct Spec {
        let btf: BTF
        var rootID: UInt32
        var access: [Accessor] = []
        var raw: [Int] = []
        var bitOffset = 0
    }

    struct Failure: Error { let message: String; init(_ message: String) { self.message = message } }

    static let maximumSpecLength = 64

    static func skip(_ btf: BTF, _ id: UInt32) throws(Failure) -> (id: UInt32, type: BTF.BTFType?) {
        if id == 0 { return (0, nil) }
        do {
            let (resolved, type) = try btf.resolve(id)
            return (resolved, type)
        } catch { throw Failure(error.description) }
    }

    static func size(_ btf: BTF, _ id: UInt32) throws(Failure) -> Int {
        do { return try btf.size(of: id) } catch { throw Failure(error.description) }
    }

    static func type(_ btf: BTF, _ id: UInt32) throws(Failure) -> BTF.BTFType {
        do { return try btf.type(id) } catch { throw Failure(error.description) }
    }

    /// `index` elements of `elementSize` bytes, in bits; an offset no instruction could hold is an error.
    static func bits(_ index: Int, elementSize: Int) throws(Failure) -> Int {
        let (bytes, overflow) = index.multipliedReportingOverflow(by: elementSize)
        guard !overflow, bytes < Int(Int32.max) / 8 else { throw Failure("element \(index) of \(elementSize) bytes is too far for an offset") }
        return bytes * 8
    }

    static func isFlexibleArray(_ btf: BTF, _ previous: Accessor?, count: UInt32) -> Bool {
        guard let previous, previous.name != nil, count == 0, let t = try? btf.type(previous.typeID) else { return false }
        return previous.index == t.members.count - 1
    }

    /// The local side of a relocation (libbpf's `bpf_core_parse_spec`).
    static func parse(_ btf: BTF, typeID: UInt32, access: String, kind: CORERelocationKind) throws(Failure) -> Spec {
        let parts = access.split(separator: ":", omittingEmptySubsequences: false)
        var raw: [Int] = []
        for part in parts {
            guard let value = Int(part), value >= 0, value < Int(Int32.max) else { throw Failure("bad access string '\(access)'") }
            raw.append(value)
        }
        guard !raw.isEmpty, raw.count <= maximumSpecLength else { throw Failure("bad access string '\(access)'") }
        var spec = Spec(btf: btf, rootID: typeID, raw: raw)
        if kind.isTypeBased {
            guard raw == [0] else { throw Failure("type relocation with access '\(access)' (expected 0)") }
            return spec
        }
        var (id, t) = try skip(btf, typeID)
        guard let root = t else { throw Failure("relocation against void") }
        if kind.isEnumBased {
            guard root.isEnum, raw.count == 1, raw[0] < root.enumerators.count else {
                throw Failure("enum relocation with access '\(access)' against \(root.kind) '\(root.name)'")
            }
            spec.access = [Accessor(typeID: id, index: raw[0], name: root.enumerators[raw[0]].name)]
            return spec
        }
        spec.access = [Accessor(typeID: id, index: raw[0], name: nil)]
        spec.bitOffset = try bits(raw[0], elementSize: try size(btf, id))
        for i in 1..<raw.count {
            (id, t) = try skip(btf, id)
            guard let current = t else { throw Failure("access '\(access)' steps into void") }
            let index = raw[i]
            if current.isComposite {
                guard index < current.members.count else { throw Failure("access '\(access)': \(current.name) has no member \(index)") }
                let member = current.members[index]
                spec.bitOffset += current.memberBitOffset(index)
                if !member.name.isEmpty { spec.access.append(Accessor(typeID: id, index: index, name: member.name)) }
                id = member.type
            } else if current.kind == .array, let array = current.array {
                let (element, elementType) = try skip(btf, array.element)
                guard elementType != nil else { throw Failure("access '\(access)': array of void") }
                guard isFlexibleArray(btf, spec.access.last, count: array.count) || index < Int(array.count) else {
                    throw Failure("access '\(access)': index \(index) past an array of \(array.count)")
                }
                spec.access.append(Accessor(typeID: element, index: index, name: nil))
                id = element
                spec.bitOffset += try bits(index, elementSize: try size(btf, element))
                guard spec.bitOffset < Int(Int32.max) else { throw Failure("access '\(access)': offset too large") }
            } else {
                throw Failure("access '\(access)' steps into a \(current.kind)")
            }
        }
        return spec
    }

    /// libbpf's `bpf_core_names_match`: essential names equal; an anonymous
    /// target matches only an anonymous local.
    static func namesMatch(_ local: String, _ target: String) -> Bool {
        if target.isEmpty { return local.isEmpty }
        return essentialName(local) == essentialName(target)
    }

    static func kindsCompatible(_ a: BTF.BTFType, _ b: BTF.BTFType) -> Bool {
        a.kind == b.kind || (a.isEnum && b.isEnum)
    }

    /// libbpf's `bpf_core_fields_are_compat`.
    static func fieldsCompatible(_ local: BTF, _ localID: UInt32, _ target: BTF, _ targetID: UInt32) throws(Failure) -> Bool {
        var localID = localID, targetID = targetID
        for _ in 0..<32 {
            let (_, lt) = try skip(local, localID), (_, tt) = try skip(target, targetID)
            guard let lt, let tt else { return false }
            if lt.isComposite && tt.isComposite { return true }
            if lt.isEnum && tt.isEnum { return namesMatch(lt.name, tt.name) }
            guard lt.kind == tt.kind else { return false }
            switch lt.kind {
            case .pointer, .float: return true
            case .forward: return namesMatch(lt.name, tt.name)
            case .int: return lt.intOffset == 0 && tt.intOffset == 0
            case .array:
                localID = lt.array!.element
                targetID = tt.array!.element
            default: return false
            }
        }
        throw Failure("types nested too deeply")
    }

    /// libbpf's `bpf_core_types_are_compat` (type_exists, type_size, target_type_id).
    static func typesCompatible(_ local: BTF, _ localID: UInt32, _ target: BTF, _ targetID: UInt32, level: Int = 32) throws(Failure) -> Bool {
        guard level > 0 else { throw Failure("types nested too deeply") }
        let first = try type(local, localID), firstTarget = try type(target, targetID)
        guard kindsCompatible(first, firstTarget) else { return false }
        var localID = localID, targetID = targetID
        for _ in 0..<32 {
            let (_, lt) = try skip(local, localID), (_, tt) = try skip(target, targetID)
            guard let lt, let tt else { return lt == nil && tt == nil }
            guard kindsCompatible(lt, tt) else { return false }
            switch lt.kind {
            case .structure, .union, .enumeration, .enumeration64, .forward: return true
            case .int: return lt.intOffset == 0 && tt.intOffset == 0
            case .pointer:
                localID = lt.sizeOrType
                targetID = tt.sizeOrType
            case .array:
                localID = lt.array!.element
                targetID = tt.array!.element
            case .functionPrototype:
                guard lt.parameters.count == tt.parameters.count else { return false }
                for (l, t) in zip(lt.parameters, tt.parameters) where !(try typesCompatibleSkipping(local, l, target, t, level: level - 1)) {
                    return false
                }
                localID = lt.sizeOrType
                targetID = tt.sizeOrType
            default: return false
            }
        }
        throw Failure("types nested too deeply")
    }

    private static func typesCompatibleSkipping(_ local: BTF, _ l: UInt32, _ target: BTF, _ t: UInt32, level: Int) throws(Failure) -> Bool {
        if l == 0 || t == 0 { return l == t }
        return try typesCompatible(local, l, target, t, level: level)
    }

    /// libbpf's `bpf_core_types_match` (type_matches): names, kinds, sizes,
    /// signedness, every local member and enumerator present in the target.
    static func typesMatch(_ local: BTF, _ localID: UInt32, _ target: BTF, _ targetID: UInt32, behindPointer: Bool = false,
                           level: Int = 32) throws(Failure) -> Bool {
        guard level > 0 else { throw Failure("types nested too deeply") }
        var localID = localID, targetID = targetID, behindPointer = behindPointer
        for _ in 0..<32 {
            let (_, lt) = try skip(local, localID), (_, tt) = try skip(target, targetID)
            guard let lt, let tt else { return lt == nil && tt == nil }
            guard namesMatch(lt.name, tt.name) else { return false }
            switch lt.kind {
            case .forward:
                if behindPointer {
                    if tt.kind == .forward { return lt.kindFlag == tt.kindFlag }
                    return (tt.kind == .structure && !lt.kindFlag) || (tt.kind == .union && lt.kindFlag)
                }
                return tt.kind == .forward && lt.kindFlag == tt.kindFlag
            case .enumeration, .enumeration64:
                guard tt.isEnum, lt.sizeOrType == tt.sizeOrType, lt.enumerators.count <= tt.enumerators.count else { return false }
                return lt.enumerators.allSatisfy { l in tt.enumerators.contains { namesMatch(l.name, $0.name) } }
            case .structure, .union:
                if behindPointer {
                    if lt.kind == tt.kind { return true }
                    return tt.kind == .forward && (lt.kind == .union) == tt.kindFlag
                }
                guard lt.kind == tt.kind, lt.members.count <= tt.members.count else { return false }
                for l in lt.members {
                    var matched = false
                    for t in tt.members where namesMatch(l.name, t.name) {
                        if try typesMatch(local, l.type, target, t.type, behindPointer: behindPointer, level: level - 1) {
                            matched = true
                            break
                        }
                    }
                    if !matched { return false }
                }
                return true
            case .int:
                return tt.kind == .int && lt.sizeOrType == tt.sizeOrType && (lt.intEncoding & 1) == (tt.intEncoding & 1)
            case .pointer:
                guard tt.kind == .pointer else { return false }
                behindPointer = true
                localID = lt.sizeOrType
                targetID = tt.sizeOrType
            case .array:
                guard tt.kind == .array, let la = lt.array, let ta = tt.array, la.count == ta.count else { return false }
                localID = la.element
                targetID = ta.element
            case .functionPrototype:
                guard tt.kind == .functionPrototype, lt.parameters.count == tt.parameters.count else { return false }
                for (l, t) in zip(lt.parameters, tt.parameters)
                    where !(try typesMatch(local, l, target, t, behindPointer: behindPointer, level: level - 1)) {
                    return false
                }
                localID = lt.sizeOrType
                targetID = tt.sizeOrType
            default:
                return false
            }
        }
        throw Failure("types nested too deeply")
    }

    /// libbpf's `bpf_core_match_member`: finds the local member's name in the
    /// target composite, descending into anonymous members.
    static func matchMember(_ localSpec: Spec, _ localAccessor: Accessor, _ target: BTF, _ targetID: UInt32,
                            _ spec: inout Spec, next: inout UInt32) throws(Failure) -> Bool {
        let localType = try type(localSpec.btf, localAccessor.typeID)
        let localMember = localType.members[localAccessor.index]
        let (targetID, t) = try skip(target, targetID)
        guard let t, t.isComposite else { return false }
        for (i, member) in t.members.enumerated() {
            guard spec.raw.count < maximumSpecLength else { throw Failure("access path nested too deeply") }
            let bitOffset = t.memberBitOffset(i)
            spec.bitOffset += bitOffset
            spec.raw.append(i)
            if member.name.isEmpty {
                if try matchMember(localSpec, localAccessor, target, member.type, &spec, next: &next) { return true }
            } else if member.name == localMember.name {
                next = member.type
                guard try fieldsCompatible(localSpec.btf, localMember.type, target, member.type) else { return false }
                spec.access.append(Accessor(typeID: targetID, index: i, name: member.name))
                return true
            }
            spec.bitOffset -= bitOffset
            spec.raw.removeLast()
        }
        return false
    }

    /// libbpf's `bpf_core_spec_match`: the local spec followed in the candidate target type.
    static func match(_ local: Spec, kind: CORERelocationKind, target: BTF, candidate: UInt32) throws(Failure) -> Spec? {
        var spec = Spec(btf: target, rootID: candidate)
        if kind.isTypeBased {
            let matches = kind == .typeMatches ? try typesMatch(local.btf, local.rootID, target, candidate)
                                               : try typesCompatible(local.btf, local.rootID, target, candidate)
            return matches ? spec : nil
        }
        var targetID = candidate
        if kind.isEnumBased {
            let (id, t) = try skip(target, targetID)
            guard let t, t.isEnum, let localName = local.access[0].name else { return nil }
            let essential = essentialName(localName)
            guard let i = t.enumerators.firstIndex(where: { essentialName($0.name) == essential }) else { return nil }
            spec.access = [Accessor(typeID: id, index: i, name: t.enumerators[i].name)]
            spec.raw = [i]
            return spec
        }
        for (i, accessor) in local.access.enumerated() {
            if i > 0 && accessor.name != nil {
                var next: UInt32 = 0
                guard try matchMember(local, accessor, target, targetID, &spec, next: &next) else { return nil }
                targetID = next
                continue
            }
            if i > 0 {
                let (_, t) = try skip(target, targetID)
                guard let t, t.kind == .array, let array = t.array else { return nil }
                guard isFlexibleArray(target, spec.access.last, count: array.count) || accessor.index < Int(array.count) else { return nil }
                (targetID, _) = try skip(target, array.element)
            }
            guard spec.raw.count < maximumSpecLength else { throw Failure("access path nested too deeply") }
            spec.access.append(Accessor(typeID: targetID, index: accessor.index, name: nil))
            spec.raw.append(accessor.index)
            spec.bitOffset += try bits(accessor.index, elementSize: try size(target, targetID))
            guard spec.bitOffset < Int(Int32.max) else { throw Failure("offset too large") }
        }
        return spec
    }

    // MARK: Values

    /// What one relocation computes on one side (libbpf's `bpf_core_relo_res` halves).
    struct Value {
        var value: UInt64 = 0
        /// Whether the instruction must hold the local value before patching.
        var validate = true
        /// For byte_off of a non-bitfield field: its size and type (memory access size adjustment).
        var fieldSize = 0
        var fieldType: UInt32 = 0
    }

    static func fieldValue(_ spec: Spec?, kind: CORERelocationKind, byteOrder: ByteOrder) throws(Failure) -> Value? {
        if kind == .fieldExists { return Value(value: spec == nil ? 0 : 1) }
        guard let spec else { return nil }
        let accessor = spec.access[spec.access.count - 1]
        var out = Value()
        guard accessor.name != nil else {
            let size = try size(spec.btf, accessor.typeID)
            switch kind {
            case .fieldByteOffset:
                out.value = UInt64(spec.bitOffset / 8)
                out.fieldSize = size
                out.fieldType = accessor.typeID
            case .fieldByteSize: out.value = UInt64(size)
            default: throw Failure("\(kind) cannot be applied to an array element")
            }
            return out
        }
        let t = try type(spec.btf, accessor.typeID)
        let member = t.members[accessor.index]
        let (fieldType, resolved) = try skip(spec.btf, member.type)
        guard let mt = resolved else { throw Failure("field of type void") }
        let bitOffset = spec.bitOffset
        var bitSize = t.memberBitfieldSize(accessor.index)
        let bitfield = bitSize > 0
        var byteSize: Int, byteOffset: Int
        if bitfield {
            byteSize = Int(mt.sizeOrType)
            guard byteSize > 0 else { throw Failure("bitfield of size 0") }
            byteOffset = bitOffset / 8 / byteSize * byteSize
            while bitOffset + bitSize - byteOffset * 8 > byteSize * 8 {
                guard byteSize < 8 else { throw Failure("bitfield cannot be read with a 64-bit load") }
                byteSize *= 2
                byteOffset = bitOffset / 8 / byteSize * byteSize
            }
        } else {
            byteSize = try size(spec.btf, fieldType)
            byteOffset = bitOffset / 8
            bitSize = byteSize * 8
        }
        out.validate = !bitfield
        switch kind {
        case .fieldByteOffset:
            out.value = UInt64(byteOffset)
            if !bitfield {
                out.fieldSize = byteSize
                out.fieldType = fieldType
            }
        case .fieldByteSize: out.value = UInt64(byteSize)
        case .fieldSigned:
            out.value = (mt.isEnum && mt.kindFlag) || (mt.kind == .int && mt.intEncoding & 1 != 0) ? 1 : 0
            out.validate = true
        case .fieldLShiftU64:
            out.value = UInt64(byteOrder == .little ? 64 - (bitOffset + bitSize - byteOffset * 8)
                                                   : (8 - byteSize) * 8 + (bitOffset - byteOffset * 8))
        case .fieldRShiftU64:
            out.value = UInt64(64 - bitSize)
            out.validate = true
        default: throw Failure("not a field relocation")
        }
        return out
    }

    static func typeValue(_ spec: Spec?, kind: CORERelocationKind) throws(Failure) -> Value {
        guard let spec else { return Value(value: 0) }
        switch kind {
        case .typeIDLocal, .typeIDTarget: return Value(value: UInt64(spec.rootID), validate: kind == .typeIDLocal)
        case .typeExists, .typeMatches: return Value(value: 1)
        case .typeSize: return Value(value: UInt64(try size(spec.btf, spec.rootID)))
        default: throw Failure("not a type relocation")
        }
    }

    static func enumValue(_ spec: Spec?, kind: CORERelocationKind) throws(Failure) -> Value? {
        if kind == .enumValueExists { return Value(value: spec == nil ? 0 : 1) }
        guard let spec else { return nil }
        let t = try type(spec.btf, spec.access[0].typeID)
        return Value(value: UInt64(bitPattern: t.enumerators[spec.access[0].index].value))
    }

    static func value(_ spec: Spec?, kind: CORERelocationKind, byteOrder: ByteOrder) throws(Failure) -> Value? {
        if kind.isFieldBased { return try fieldValue(spec, kind: kind, byteOrder: byteOrder) }
        if kind.isTypeBased { return try typeValue(spec, kind: kind) }
        return try enumValue(spec, kind: kind)
    }

    // MARK: Resolution

    /// The resolved relocation: the local value (what clang wrote), and the
    /// target's value or nil (poison), with the access size adjustment rule.
    struct Resolution {
        var local: Value
        var target: Value?
        var targetSpec: Spec?
        var failMemorySizeAdjustment = false
    }

    static func resolve(_ record: Record, local: BTF, target: TargetBTF, byteOrder: ByteOrder) throws(Failure) -> Resolution {
        let localSpec = try parse(local, typeID: record.typeID, access: record.access, kind: record.kind)
        guard let localValue = try value(localSpec, kind: record.kind, byteOrder: byteOrder) else { throw Failure("no local value") }
        if record.kind == .typeIDLocal {
            return Resolution(local: localValue, target: Value(value: UInt64(record.typeID), validate: false), targetSpec: localSpec)
        }
        let localType = try type(local, record.typeID)
        guard !localType.name.isEmpty else { throw Failure("relocations against anonymous types are not supported") }
        let essential = essentialName(localType.name)
        var chosen: (spec: Spec, value: Value?)?
        for candidate in target.byEssentialName[essential] ?? [] {
            guard let candidateType = target.btf.types[Int(candidate)], kindsCompatible(candidateType, localType) else { continue }
            guard let spec = try match(localSpec, kind: record.kind, target: target.btf, candidate: candidate) else { continue }
            let value = try value(spec, kind: record.kind, byteOrder: byteOrder)
            if let chosen {
                if chosen.spec.bitOffset != spec.bitOffset {
                    throw Failure("field offset ambiguity: \(chosen.spec.bitOffset / 8) != \(spec.bitOffset / 8) in two target types named '\(essential)'")
                }
                if chosen.value?.value != value?.value || (chosen.value == nil) != (value == nil) {
                    throw Failure("relocation decision ambiguity: \(chosen.value.map { "\($0.value)" } ?? "poison") != \(value.map { "\($0.value)" } ?? "poison") in two target types named '\(essential)'")
                }
            } else {
                chosen = (spec, value)
            }
        }
        var resolution: Resolution
        if let chosen {
            resolution = Resolution(local: localValue, target: chosen.value, targetSpec: chosen.spec)
        } else {
            resolution = Resolution(local: localValue, target: try value(nil, kind: record.kind, byteOrder: byteOrder), targetSpec: nil)
        }
        if record.kind == .fieldByteOffset, let target = resolution.target, let targetSpec = resolution.targetSpec,
           localValue.fieldSize != target.fieldSize {
            let l = try type(local, localValue.fieldType), t = try type(targetSpec.btf, target.fieldType)
            let pointers = l.kind == .pointer && t.kind == .pointer
            let unsignedInts = l.kind == .int && t.kind == .int && l.intEncoding & 1 == 0 && t.intEncoding & 1 == 0
            resolution.failMemorySizeAdjustment = !(pointers || unsignedInts)
        }
        return resolution
    }

    /// A readable name for the relocation: kind, root type and the member path.
    static func describe(_ record: Record, local: BTF) -> String {
        var text = "CO-RE relocation #\(record.index) (\(record.kind))"
        guard let root = try? local.type(record.typeID) else { return text + " of type \(record.typeID)" }
        let kindName = root.kind == .structure ? "struct " : root.kind == .union ? "union " : root.isEnum ? "enum " : ""
        text += " of \(kindName)\(root.name.isEmpty ? "(anonymous)" : root.name)"
        if let spec = try? parse(local, typeID: record.typeID, access: record.access, kind: record.kind), !record.kind.isTypeBased {
            let path = spec.access.dropFirst(record.kind.isEnumBased ? 0 : 1).map { $0.name ?? "[\($0.index)]" }
            if !path.isEmpty { text += (record.kind.isEnumBased ? "::" : ".") + path.joined(separator: ".") }
        }
        return text + " (access \(record.access))"
    }

    // MARK: Patching

    static let sizeCodes: [Int: UInt8] = [4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18]

    /// Applies one section's relocations to its slots (libbpf's `bpf_core_patch_insn`).
    static func apply(_ records: [Record], to slots: inout [RawInstruction], section: String, local: BTF, target: TargetBTF,
                      byteOrder: ByteOrder) -> SectionResult {
        var result = SectionResult()
        for record in records {
            let offset = record.instructionOffset
            func fail(_ reason: String) {
                result.errors[offset / 8] = .badRelocation(section: section, offset: offset, reason: "\(describe(record, local: local)): \(reason)")
            }
            guard offset % 8 == 0, offset / 8 < slots.count else { fail("not at an instruction of the section"); continue }
            let pc = offset / 8
            let resolution: Resolution
            do { resolution = try resolve(record, local: local, target: target, byteOrder: byteOrder) } catch { fail(error.message); continue }
            func poison(_ reason: String) {
                let isLoad64 = slots[pc].opcode == 0x18 && pc + 1 < slots.count
                let call = RawInstruction(opcode: 0x85, imm: PoisonedInstruction.helperID)
                slots[pc] = call
                if isLoad64 { slots[pc + 1] = call }
                result.poisoned[pc] = PoisonedInstruction(relocation: describe(record, local: local), reason: reason)
            }
            guard let new = resolution.target else {
                poison("no matching \(record.kind.isEnumBased ? "enumerator" : "field") in \(target.origin)")
                continue
            }
            let local = resolution.local
            var insn = slots[pc]
            let instructionClass = insn.opcode & 0x07
            switch instructionClass {
            case 0x04, 0x07: // ALU, ALU64
                guard insn.opcode & 0x08 == 0 else { fail("ALU instruction with a register source"); continue }
                if local.validate && Int64(insn.imm) != Int64(bitPattern: local.value) && UInt64(UInt32(bitPattern: insn.imm)) != local.value {
                    fail("instruction holds \(insn.imm), expected \(local.value)")
                    continue
                }
                insn.imm = Int32(truncatingIfNeeded: new.value)
            case 0x01, 0x02, 0x03: // LDX, ST, STX
                if local.validate && Int64(insn.offset) != Int64(bitPattern: local.value) {
                    fail("instruction offset is \(insn.offset), expected \(local.value)")
                    continue
                }
                guard new.value <= UInt64(Int16.max) else { fail("offset \(new.value) does not fit an instruction"); continue }
                if resolution.failMemorySizeAdjustment {
                    poison("the field's size changes from \(local.fieldSize) to \(new.fieldSize) bytes, which a load cannot be adjusted to")
                    continue
                }
                insn.offset = Int16(new.value)
                if record.kind == .fieldByteOffset && new.fieldSize != local.fieldSize {
                    let current = insn.opcode & 0x18
                    guard sizeCodes[local.fieldSize] == current else {
                        fail("access size differs from the field's \(local.fieldSize) bytes")
                        continue
                    }
                    guard let code = sizeCodes[new.fieldSize] else { fail("field size \(new.fieldSize) has no load width"); continue }
                    insn.opcode = insn.opcode & ~0x18 | code
                }
            case 0x00: // LD: only ld_imm64
                guard insn.opcode == 0x18, pc + 1 < slots.count, insn.src == 0, insn.offset == 0, slots[pc + 1].opcode == 0,
                      slots[pc + 1].dst == 0, slots[pc + 1].src == 0, slots[pc + 1].offset == 0 else {
                    fail("not a plain 64-bit immediate load")
                    continue
                }
                let imm = UInt64(UInt32(bitPattern: insn.imm)) | UInt64(UInt32(bitPattern: slots[pc + 1].imm)) << 32
                if local.validate && imm != local.value { fail("instruction holds \(imm), expected \(local.value)"); continue }
                insn.imm = Int32(truncatingIfNeeded: new.value)
                slots[pc + 1].imm = Int32(truncatingIfNeeded: new.value >> 32)
            default:
                fail("instruction (opcode 0x\(String(insn.opcode, radix: 16))) cannot be relocated")
                continue
            }
            slots[pc] = insn
        }
        return result
    }
}

extension CORETarget {
    /// A type or enumerator name without its `___flavor` suffix, as CO-RE
    /// compares names (`foo___v2` is `foo`).
    public static func essentialName(_ name: String) -> String { CORE.essentialName(name) }
}
