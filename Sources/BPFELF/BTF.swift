import BPFISA

/// The BPF Type Format types of an object (`.BTF`), parsed by BPFKit itself.
///
/// Only what loading needs is interpreted (map definitions in `.maps`, type
/// sizes); every kind is still walked so that the type ids line up. Written
/// here rather than borrowed from libbpf for the same reasons as `ELFFile`:
/// no native dependency, and malformed input becomes a precise `ELFError`.
struct BTF: Sendable {
    enum Kind: UInt8, Sendable {
        case int = 1, pointer, array, structure, union, enumeration, forward, typedef, volatile, const, restrict
        case function, functionPrototype, variable, dataSection, float, declarationTag, typeTag, enumeration64
    }

    /// `bitOffset` is the raw `btf_member.offset`: with the kind flag set on
    /// the struct, the bitfield size in its top 8 bits (see `BTFType.memberBitOffset`).
    struct Member: Sendable { let name: String; let type: UInt32; let bitOffset: UInt32 }
    struct Enumerator: Sendable { let name: String; let value: Int64 }
    struct SectionVariable: Sendable { let type: UInt32; let offset: UInt32; let size: UInt32 }

    struct BTFType: Sendable {
        let kind: Kind
        let name: String
        /// `size` for sized kinds, the referenced type for the others.
        let sizeOrType: UInt32
        /// `info`'s kind flag (bitfield offsets in members, signed enums, union forwards).
        var kindFlag = false
        var members: [Member] = []
        var array: (element: UInt32, index: UInt32, count: UInt32)? = nil
        var variables: [SectionVariable] = []
        /// `int`: BTF_INT_ENCODING (1 signed, 2 char, 4 bool), BTF_INT_OFFSET and BTF_INT_BITS.
        var intEncoding: UInt8 = 0, intOffset: UInt8 = 0, intBits: UInt8 = 0
        /// `enum` / `enum64` values (32-bit values sign-extended, as libbpf reads them).
        var enumerators: [Enumerator] = []
        /// `func_proto` parameter types.
        var parameters: [UInt32] = []

        var isComposite: Bool { kind == .structure || kind == .union }
        var isEnum: Bool { kind == .enumeration || kind == .enumeration64 }
        /// Bit offset of member `i` in the struct or union.
        func memberBitOffset(_ i: Int) -> Int {
            Int(kindFlag ? members[i].bitOffset & 0xff_ffff : members[i].bitOffset)
        }
        /// Bitfield size of member `i` (0: not a bitfield).
        func memberBitfieldSize(_ i: Int) -> Int { kindFlag ? Int(members[i].bitOffset >> 24) : 0 }
    }

    static let magic: UInt16 = 0xeb9f

    /// Types by id; id 0 is `void`, stored as nil.
    let types: [BTFType?]

    init(_ data: ByteReader) throws(ELFError) {
        func bad(_ reason: String) -> ELFError { .badBTF(reason) }
        let magic: UInt16
        do { magic = try data.u16(0, "BTF magic") } catch { throw bad("section too short for a header") }
        guard magic == Self.magic else {
            throw bad(magic == Self.magic.byteSwapped ? "byte order differs from the ELF file's" : "bad magic 0x\(String(magic, radix: 16))")
        }
        guard (try? data.u8(2, "BTF version")) == 1 else { throw bad("unsupported version") }
        let header = Int(try data.u32(4, "hdr_len"))
        let typeOffset = Int(try data.u32(8, "type_off")), typeLength = Int(try data.u32(12, "type_len"))
        let stringOffset = Int(try data.u32(16, "str_off")), stringLength = Int(try data.u32(20, "str_len"))
        guard header >= 24 else { throw bad("header length \(header) < 24") }
        let typeData = try data.slice(at: header + typeOffset, count: typeLength, what: "BTF types")
        let strings = try data.slice(at: header + stringOffset, count: stringLength, what: "BTF strings")
        func name(_ offset: UInt32) throws(ELFError) -> String {
            try strings.string(Int(offset), "BTF name")
        }

        var types: [BTFType?] = [nil]
        var at = 0
        while at < typeData.count {
            let nameOffset = try typeData.u32(at, "btf_type.name_off")
            let info = try typeData.u32(at + 4, "btf_type.info")
            let sizeOrType = try typeData.u32(at + 8, "btf_type.size")
            let vlen = Int(info & 0xffff)
            let rawKind = UInt8((info >> 24) & 0x1f)
            guard let kind = Kind(rawValue: rawKind) else { throw bad("type \(types.count): unknown kind \(rawKind)") }
            var type = BTFType(kind: kind, name: try name(nameOffset), sizeOrType: sizeOrType)
            type.kindFlag = info & 0x8000_0000 != 0
            at += 12
            switch kind {
            case .int:
                let encoding = try typeData.u32(at, "btf_int")
                type.intEncoding = UInt8((encoding >> 24) & 0x0f)
                type.intOffset = UInt8((encoding >> 16) & 0xff)
                type.intBits = UInt8(encoding & 0xff)
                at += 4
            case .array:
                type.array = (try typeData.u32(at, "btf_array.type"), try typeData.u32(at + 4, "btf_array.index_type"),
                              try typeData.u32(at + 8, "btf_array.nelems"))
                at += 12
            case .structure, .union:
                for i in 0..<vlen {
                    let m = at + i * 12
                    type.members.append(Member(name: try name(try typeData.u32(m, "btf_member.name_off")),
                                               type: try typeData.u32(m + 4, "btf_member.type"),
                                               bitOffset: try typeData.u32(m + 8, "btf_member.offset")))
                }
                at += vlen * 12
            case .enumeration:
                for i in 0..<vlen {
                    let e = at + i * 8
                    type.enumerators.append(Enumerator(name: try name(try typeData.u32(e, "btf_enum.name_off")),
                                                       value: Int64(Int32(bitPattern: try typeData.u32(e + 4, "btf_enum.val")))))
                }
                at += vlen * 8
            case .enumeration64:
                for i in 0..<vlen {
                    let e = at + i * 12
                    let low = UInt64(try typeData.u32(e + 4, "btf_enum64.val_lo32"))
                    let high = UInt64(try typeData.u32(e + 8, "btf_enum64.val_hi32"))
                    type.enumerators.append(Enumerator(name: try name(try typeData.u32(e, "btf_enum64.name_off")),
                                                       value: Int64(bitPattern: high << 32 | low)))
                }
                at += vlen * 12
            case .functionPrototype:
                for i in 0..<vlen { type.parameters.append(try typeData.u32(at + i * 8 + 4, "btf_param.type")) }
                at += vlen * 8
            case .variable, .declarationTag: at += 4
            case .dataSection:
                for i in 0..<vlen {
                    let v = at + i * 12
                    type.variables.append(SectionVariable(type: try typeData.u32(v, "btf_var_secinfo.type"),
                                                          offset: try typeData.u32(v + 4, "btf_var_secinfo.offset"),
                                                          size: try typeData.u32(v + 8, "btf_var_secinfo.size")))
                }
                at += vlen * 12
            case .pointer, .forward, .typedef, .volatile, .const, .restrict, .function, .float, .typeTag:
                break
            }
            guard at <= typeData.count else { throw bad("type \(types.count) (\(kind)) runs past the end of the type data") }
            types.append(type)
        }
        self.types = types
    }

    func type(_ id: UInt32) throws(ELFError) -> BTFType {
        guard Int(id) < types.count, let type = types[Int(id)] else {
            throw .badBTF(id == 0 ? "unexpected void type" : "type id \(id) out of range (\(types.count - 1) types)")
        }
        return type
    }

    /// Follows typedefs and qualifiers to the underlying type.
    func resolve(_ id: UInt32) throws(ELFError) -> (id: UInt32, type: BTFType) {
        var id = id
        for _ in 0..<64 {
            let t = try type(id)
            switch t.kind {
            case .typedef, .volatile, .const, .restrict, .typeTag: id = t.sizeOrType
            default: return (id, t)
            }
        }
        throw .badBTF("type \(id): chain of typedefs and qualifiers is too long (a cycle?)")
    }

    /// The size in bytes of a type, as `sizeof` gives it.
    func size(of id: UInt32, depth: Int = 0) throws(ELFError) -> Int {
        guard depth < 32 else { throw .badBTF("type \(id): nested too deeply") }
        let (_, t) = try resolve(id)
        switch t.kind {
        case .int, .structure, .union, .enumeration, .enumeration64, .float, .dataSection: return Int(t.sizeOrType)
        case .pointer: return 8
        case .array:
            guard let array = t.array else { throw .badBTF("array without element type") }
            let (product, overflow) = Int(array.count).multipliedReportingOverflow(by: try size(of: array.element, depth: depth + 1))
            guard !overflow, product <= 1 << 31 else { throw .badBTF("type \(id): array size overflows") }
            return product
        default:
            throw .badBTF("type \(id) (\(t.kind)) has no size")
        }
    }

    /// The data section (DATASEC) with this name, if described.
    func dataSection(named name: String) -> BTFType? {
        types.lazy.compactMap { $0 }.first { $0.kind == .dataSection && $0.name == name }
    }
}
