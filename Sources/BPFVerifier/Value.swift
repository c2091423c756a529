/// A range of offsets `[low, high]` added to a pointer at run time (its variable part).
struct Span: Hashable, Sendable {
    var low: Int
    var high: Int
    static let zero = Span(low: 0, high: 0)

    func contains(_ other: Span) -> Bool { other.low >= low && other.high <= high }
}

/// Memory a pointer into which the verifier can bound: a map value (from a
/// lookup) or a global-data value (from a 64-bit immediate load). Both start
/// at least 8-byte aligned.
struct Region: Hashable, Sendable {
    enum Kind: Hashable, Sendable { case mapValue, globalData }
    var kind: Kind
    var size: Int
    var writable: Bool
}

/// An inner map's description as a register holds it: the template's
/// sizes and flags, stored inline so that `Value` (and so every register
/// file) is a plain value, copied and compared without reference counting.
/// A template's own template (a map of maps nested in a map of maps, which
/// the kernel does not allow either) is not kept: a lookup in such an
/// inner map gives an unknown number.
struct InnerMap: Hashable, Sendable {
    var keySize: Int?
    var valueSize: Int
    var lookupReturnsValue: Bool
    var writable: Bool

    init(_ map: MapDescription) {
        keySize = map.keySize
        valueSize = map.valueSize
        lookupReturnsValue = map.lookupReturnsValue
        writable = map.writable
    }

    var description: MapDescription {
        MapDescription(keySize: keySize, valueSize: valueSize, lookupReturnsValue: lookupReturnsValue, writable: writable)
    }
}

/// What a register holds, abstractly. Anything that is not one of the
/// pointer kinds below is a `scalar`: a number, or a pointer nothing is
/// known about (no access through it is ever proven).
enum Value: Hashable, Sendable {
    /// Never written on this path.
    case uninitialized
    case scalar(Scalar)
    /// The context plus a constant.
    case context(offset: Int)
    /// The top of frame `frame`'s stack (its r10; 0 is the entry function's,
    /// frame d sits d frames below it) plus `offset` plus a value in `variable`.
    case stack(frame: Int, offset: Int, variable: Span)
    /// `data + v + offset` where v is in `variable` and is the same run-time
    /// value for every register with this `id`; `State.packetRanges[id]` bounds
    /// what is known readable from `data + v`.
    case packet(id: Int, offset: Int, variable: Span)
    /// `data_end`.
    case packetEnd
    /// A map value or global data plus `offset` plus a value in `variable`.
    case region(Region, offset: Int, variable: Span)
    /// A lookup's result before its null check; every register with this id
    /// holds the same value.
    case mapValueOrNull(id: Int, Region)
    /// A map handle.
    case mapHandle(UInt64)
    /// A lookup's result in a map of maps before its null check: an inner
    /// map, shaped as the outer map's template, or null; every register with
    /// this id holds the same value.
    case innerMapOrNull(id: Int, InnerMap)
    /// An inner map from a map of maps: which one is known only at run time,
    /// its key and value sizes from the template (every inner map fits it).
    case innerMap(InnerMap)
    /// An acquired object (`State.references` holds its id while it is
    /// held) plus `offset`; before its null check (`maybeNull`) it may be 0,
    /// and every register with this id holds the same value. Accesses
    /// through it keep their run-time checks.
    case reference(id: Int, offset: Int, maybeNull: Bool)

    static let unknown = Value.scalar(.unknown)

    var scalar: Scalar? {
        if case .scalar(let s) = self { return s }
        return nil
    }

    var isInitialized: Bool { self != .uninitialized }

    /// The packet id or null-check id this value shares with other registers.
    var packetID: Int? {
        if case .packet(let id, _, _) = self { return id }
        return nil
    }
    var isStack: Bool {
        if case .stack = self { return true }
        return false
    }
    var nullID: Int? {
        if case .mapValueOrNull(let id, _) = self { return id }
        if case .innerMapOrNull(let id, _) = self { return id }
        return nil
    }
    /// The link a number shares with other registers (`ScalarLink`).
    var linkID: Int? {
        if case .scalar(let s) = self { return s.link?.id }
        return nil
    }
    /// The acquired reference this value points into.
    var referenceID: Int? {
        if case .reference(let id, _, _) = self { return id }
        return nil
    }

    /// A short description for the report.
    var summary: String {
        switch self {
        case .uninitialized: "uninitialized"
        case .scalar(let s):
            if let c = s.constant { "scalar \(Int64(bitPattern: c))" }
            else if s.isUnknown { "unknown scalar" }
            else { "scalar [\(s.umin), \(s.umax)]" }
        case .context(let off): "context, off \(off)"
        case .stack(_, let off, let v): "stack, off \(off)\(Self.describe(v))"
        case .packet(_, let off, let v): "packet, off \(off)\(Self.describe(v))"
        case .packetEnd: "packet end"
        case .region(let r, let off, let v):
            "\(r.kind == .mapValue ? "map value" : "global data") of \(r.size) bytes, off \(off)\(Self.describe(v))"
        case .mapValueOrNull(_, let r): "map value of \(r.size) bytes or null"
        case .mapHandle: "map handle"
        case .innerMapOrNull(_, let m): "inner map (value \(m.valueSize) bytes) or null"
        case .innerMap(let m): "inner map (value \(m.valueSize) bytes)"
        case .reference(let id, let off, let maybeNull): "reference \(id), off \(off)\(maybeNull ? " or null" : "")"
        }
    }

    static func describe(_ v: Span) -> String {
        v == .zero ? "" : ", var [\(v.low), \(v.high)]"
    }
}
