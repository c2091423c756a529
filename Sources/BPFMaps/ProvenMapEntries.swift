import BPFISA
import BPFRuntime

/// The map helpers for calls the verifier proved (`HelperCallProof`): r1 is
/// the handle of one of the program's maps and every key and value pointer
/// lies in memory the run owns with all its bytes. So nothing is resolved
/// or checked here: the handle is dereferenced (`MapDescriptor.object`) and
/// the key and value are read in place. The results are those of the
/// helpers' bodies (`bpf_map_*_elem` in BPFHelpers), which check everything
/// and then do exactly this; failures are negative errno results, never an
/// error of the run, so JITed code calls these with nothing but the
/// arguments, as the kernel's JIT calls its helpers.
public enum ProvenMapEntries {
    /// The entry for `operation` on `map`; nil
    /// when the map's kind has none (program arrays, ring buffers).
    public static func call(_ operation: Operation, map: any BPFMap) -> ProvenHelperCall? {
        switch (operation, map) {
        case (.lookup, let array as ArrayMap) where array.slots == 1 && array.indexOrder == .host:
            return .arrayLookup(values: array.values.start, stride: array.values.stride, maxEntries: array.definition.maxEntries)
        case (.lookup, is ArrayMap): return .function(ProvenHelperCall.address(of: arrayLookup))
        case (.update, is ArrayMap): return .function(ProvenHelperCall.address(of: arrayUpdate))
        case (.lookup, is HashMap): return .function(ProvenHelperCall.address(of: hashLookup))
        case (.update, is HashMap): return .function(ProvenHelperCall.address(of: hashUpdate))
        case (.delete, is HashMap): return .function(ProvenHelperCall.address(of: hashDelete))
        default: return nil
        }
    }

    public enum Operation: Sendable { case lookup, update, delete }

    @inline(__always)
    static func bytes(_ address: UInt64, _ count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(address)), count: count)
    }

    @inline(__always)
    static func result(_ body: () throws(MapError) -> Void) -> UInt64 {
        do throws(MapError) {
            try body()
            return 0
        } catch {
            return Errno.result(error.errno)
        }
    }

    static let hashLookup: ProvenHelperCall.Function = { handle, key, _, _, _ in lookup(HashMap.self, handle: handle, key: key) }

    static let hashUpdate: ProvenHelperCall.Function = { handle, key, value, flags, _ in
        update(HashMap.self, handle: handle, key: key, value: value, flags: flags)
    }

    static let hashDelete: ProvenHelperCall.Function = { handle, key, _, _, _ in
        MapDescriptor.object(handle: handle, as: HashMap.self)._withUnsafeGuaranteedRef { map in
            result { () throws(MapError) in try map.programDelete(key: bytes(key, map.definition.keySize)) }
        }
    }

    static let arrayLookup: ProvenHelperCall.Function = { handle, key, _, _, _ in lookup(ArrayMap.self, handle: handle, key: key) }

    static let arrayUpdate: ProvenHelperCall.Function = { handle, key, value, flags, _ in
        update(ArrayMap.self, handle: handle, key: key, value: value, flags: flags)
    }

    /// `bpf_map_lookup_elem` on the map behind `handle`, of type `Map`: the value's address or 0.
    @inline(__always)
    static func lookup<Map: BPFMap>(_ type: Map.Type, handle: UInt64, key: UInt64) -> UInt64 {
        MapDescriptor.object(handle: handle, as: Map.self)._withUnsafeGuaranteedRef { map in
            map.programLookup(key: bytes(key, map.definition.keySize))
        }
    }

    /// `bpf_map_update_elem` on the map behind `handle`, of type `Map`: 0 or a negative errno.
    @inline(__always)
    static func update<Map: BPFMap>(_ type: Map.Type, handle: UInt64, key: UInt64, value: UInt64, flags: UInt64) -> UInt64 {
        MapDescriptor.object(handle: handle, as: Map.self)._withUnsafeGuaranteedRef { map in
            result { () throws(MapError) in
                try map.programUpdate(key: bytes(key, map.definition.keySize), value: bytes(value, map.definition.valueSize),
                                      flags: flags)
            }
        }
    }
}
