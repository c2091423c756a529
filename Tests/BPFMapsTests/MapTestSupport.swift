@testable import BPFMaps

func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
func le64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

func map(_ type: MapType, key: Int = 4, value: Int = 8, max: Int = 4, flags: MapFlags = [], name: String = "m") throws -> any BPFMap {
    try makeMap(MapDefinition(name: name, type: type, keySize: key, valueSize: value, maxEntries: max, flags: flags))
}

extension BPFMap {
    /// Program-side calls with host arrays, as helpers would make them.
    func pLookup(_ key: [UInt8]) -> UInt64 { key.withUnsafeBytes { programLookup(key: $0) } }
    func pUpdate(_ key: [UInt8], _ value: [UInt8], _ flags: UInt64 = 0) -> MapError? {
        key.withUnsafeBytes { k in value.withUnsafeBytes { v in
            do throws(MapError) { try programUpdate(key: k, value: v, flags: flags); return nil } catch { return error }
        } }
    }
    func pDelete(_ key: [UInt8]) -> MapError? {
        key.withUnsafeBytes { k in
            do throws(MapError) { try programDelete(key: k); return nil } catch { return error }
        }
    }
}

/// Reads 8 bytes at a host address a lookup returned.
func peek64(_ address: UInt64) -> UInt64 {
    UnsafeRawPointer(bitPattern: UInt(address))!.loadUnaligned(as: UInt64.self)
}

func poke64(_ address: UInt64, _ value: UInt64) {
    UnsafeMutableRawPointer(bitPattern: UInt(address))!.storeBytes(of: value, as: UInt64.self)
}
