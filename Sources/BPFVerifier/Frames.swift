/// The eleven registers of a frame, stored inline in it: a state copied
/// at a branch and then written copies its frame list as one block of
/// plain bytes (a `Value` is a plain value), with no second heap block per
/// frame to allocate, reference count and free.
struct RegisterFile: Hashable, Sendable, RandomAccessCollection, MutableCollection {
    private var r0: Value, r1: Value, r2: Value, r3: Value, r4: Value, r5: Value
    private var r6: Value, r7: Value, r8: Value, r9: Value, r10: Value

    static let count = 11

    init(repeating value: Value) {
        r0 = value; r1 = value; r2 = value; r3 = value; r4 = value; r5 = value
        r6 = value; r7 = value; r8 = value; r9 = value; r10 = value
    }

    /// The registers of `values` (exactly eleven: r0–r10).
    init(_ values: [Value]) {
        precondition(values.count == Self.count, "a frame has \(Self.count) registers")
        self.init(repeating: .uninitialized)
        for (r, value) in values.enumerated() { self[r] = value }
    }

    var startIndex: Int { 0 }
    var endIndex: Int { Self.count }

    subscript(register: Int) -> Value {
        get {
            switch register {
            case 0: r0
            case 1: r1
            case 2: r2
            case 3: r3
            case 4: r4
            case 5: r5
            case 6: r6
            case 7: r7
            case 8: r8
            case 9: r9
            case 10: r10
            default: preconditionFailure("register \(register) out of range")
            }
        }
        set {
            switch register {
            case 0: r0 = newValue
            case 1: r1 = newValue
            case 2: r2 = newValue
            case 3: r3 = newValue
            case 4: r4 = newValue
            case 5: r5 = newValue
            case 6: r6 = newValue
            case 7: r7 = newValue
            case 8: r8 = newValue
            case 9: r9 = newValue
            case 10: r10 = newValue
            default: preconditionFailure("register \(register) out of range")
            }
        }
    }
}

/// Ids of an old state mapped to ids of a new one while one state's
/// inclusion in another is checked (`State.isIncluded(in:)`). A state holds
/// few ids, so the first four pairs are kept inline: most comparisons
/// allocate and hash nothing.
struct SmallIDMap {
    private var k0 = 0, v0 = 0, k1 = 0, v1 = 0, k2 = 0, v2 = 0, k3 = 0, v3 = 0
    private var count = 0
    private var more: [Int: Int] = [:]

    /// What `key` maps to, if anything; setting one adds it (keys are set once).
    subscript(key: Int) -> Int? {
        get {
            if count > 0, k0 == key { return v0 }
            if count > 1, k1 == key { return v1 }
            if count > 2, k2 == key { return v2 }
            if count > 3, k3 == key { return v3 }
            return count > 4 ? more[key] : nil
        }
        set {
            guard let value = newValue else { return }
            switch count {
            case 0: k0 = key; v0 = value
            case 1: k1 = key; v1 = value
            case 2: k2 = key; v2 = value
            case 3: k3 = key; v3 = value
            default: more[key] = value
            }
            count += 1
        }
    }
}
