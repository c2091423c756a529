import Foundation
import BPFMaps

/// Why map contents could not be read or applied; the message names the
/// map, the entry and what is wrong.
public struct MapContentsError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Map contents as JSON, the format `bpfkit run --map-init` reads and
/// `--dump-maps --json` writes: an object keyed by map name, each value a
/// list of entries
///
///     {"key": "0a 00 00 01", "value": "01 00 00 00 00 00 00 00"}
///
/// with keys and values as hex bytes (spaces allowed) in memory order, exactly
/// the map's key and value size. For per-CPU maps `"value"` sets every CPU's
/// copy (a dump whose copies differ writes `"values"`, one per CPU slot,
/// which is read back too); a `prog_array` value is `{"program": "NAME"}`, a
/// program of the same object; `{"map": "NAME"}` is for maps of maps. Array
/// entries not listed keep their contents (zero in a fresh object).
public enum MapContents {
    /// One entry's value as the file gives it.
    public enum Value: Sendable, Hashable {
        case bytes([UInt8])
        case perCPU([[UInt8]])
        case program(String)
        case map(String)
    }

    public struct Entry: Sendable, Hashable {
        public var key: [UInt8]
        public var value: Value
    }

    /// Parses a file's bytes into entries by map name, in name order. Each
    /// error names the map and the entry. Also takes a `bpfkit run --json
    /// --dump-maps` result (its `maps` member).
    public static func parse(_ data: Data) throws(MapContentsError) -> [(map: String, entries: [Entry])] {
        let root: Any
        do { root = try JSONSerialization.jsonObject(with: data) } catch {
            throw MapContentsError("not valid JSON (\((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"))")
        }
        guard var object = root as? [String: Any] else {
            throw MapContentsError("the top level must be an object keyed by map name")
        }
        if object["retval"] is NSNumber, let maps = object["maps"] as? [String: Any] { object = maps }
        var out: [(map: String, entries: [Entry])] = []
        for name in object.keys.sorted() {
            guard let list = object[name] as? [Any] else {
                throw MapContentsError("map '\(name)': expected a list of {\"key\": HEX, \"value\": HEX} entries")
            }
            var entries: [Entry] = []
            for (i, item) in list.enumerated() {
                let at = "map '\(name)' entry \(i)"
                guard let fields = item as? [String: Any] else { throw MapContentsError("\(at): expected an object {\"key\": HEX, \"value\": HEX}") }
                if let extra = fields.keys.sorted().first(where: { !["key", "value", "values"].contains($0) }) {
                    throw MapContentsError("\(at): unknown field '\(extra)' (an entry has \"key\" and \"value\")")
                }
                guard let keyText = fields["key"] as? String else { throw MapContentsError("\(at): \"key\" must be a hex string") }
                let key = try hex(keyText, "\(at): key")
                let value: Value
                switch (fields["value"], fields["values"]) {
                case (nil, nil):
                    throw MapContentsError("\(at): missing \"value\"")
                case (.some, .some):
                    throw MapContentsError("\(at): give \"value\" or \"values\", not both")
                case (nil, let values?):
                    guard let list = values as? [Any], let texts = list as? [String] else {
                        throw MapContentsError("\(at): \"values\" must be a list of hex strings, one per CPU")
                    }
                    var copies: [[UInt8]] = []
                    for (cpu, text) in texts.enumerated() { copies.append(try hex(text, "\(at): values[\(cpu)]")) }
                    value = .perCPU(copies)
                case (let given?, nil):
                    if let text = given as? String {
                        value = .bytes(try hex(text, "\(at): value"))
                    } else if let reference = given as? [String: Any], reference.count == 1, let first = reference.first,
                              let targetName = first.value as? String, first.key == "program" || first.key == "map" {
                        value = first.key == "program" ? .program(targetName) : .map(targetName)
                    } else {
                        throw MapContentsError("\(at): \"value\" must be a hex string, {\"program\": NAME} or {\"map\": NAME}")
                    }
                }
                entries.append(Entry(key: key, value: value))
            }
            out.append((name, entries))
        }
        return out
    }

    /// Hex bytes: pairs of hex digits, with any spaces between bytes.
    static func hex(_ text: String, _ what: String) throws(MapContentsError) -> [UInt8] {
        var bytes: [UInt8] = []
        for (n, word) in text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).enumerated() {
            let digits = Array(word.utf8)
            guard digits.count % 2 == 0 else {
                throw MapContentsError("\(what): '\(word)' (group \(n + 1)) has an odd number of hex digits")
            }
            var i = 0
            while i < digits.count {
                guard let high = digit(digits[i]), let low = digit(digits[i + 1]) else {
                    throw MapContentsError("\(what): '\(word)' is not hex bytes")
                }
                bytes.append(high << 4 | low)
                i += 2
            }
        }
        return bytes
    }

    private static func digit(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Writes the parsed entries into `maps`; `setProgram(map, index, name)`
    /// fills a program-array slot. Stops at the first entry that does not fit.
    public static func apply(_ contents: [(map: String, entries: [Entry])], to maps: [any BPFMap],
                             setProgram: (String, Int, String) throws -> Void) throws(MapContentsError) {
        for (name, entries) in contents {
            guard let map = maps.first(where: { $0.name == name }) else {
                let known = maps.map { "'\($0.name)'" }.joined(separator: ", ")
                throw MapContentsError("map '\(name)': no such map in the object (maps: \(known.isEmpty ? "none" : known))")
            }
            let d = map.definition
            for (i, entry) in entries.enumerated() {
                let at = "map '\(name)' entry \(i)"
                guard entry.key.count == d.keySize else {
                    throw MapContentsError("\(at): key is \(entry.key.count) bytes; the map's keys are \(d.keySize) bytes")
                }
                switch (d.type, entry.value) {
                case (.ringBuffer, _):
                    throw MapContentsError("\(at): a ring buffer holds records, not entries to fill")
                case (.arrayOfMaps, .map(let inner)), (.hashOfMaps, .map(let inner)):
                    guard let outer = map as? MapOfMaps else { throw MapContentsError("\(at): '\(name)' does not hold maps here") }
                    guard let innerMap = maps.first(where: { $0.name == inner }) else {
                        throw MapContentsError("\(at): no map '\(inner)' in the object to put in '\(name)'")
                    }
                    do { try outer.set(innerMap, at: entry.key) } catch {
                        throw MapContentsError("\(at): cannot put map '\(inner)' in '\(name)': \(error)")
                    }
                case (.arrayOfMaps, _), (.hashOfMaps, _):
                    throw MapContentsError("\(at): a map-of-maps value is {\"map\": NAME}")
                case (_, .map(let inner)):
                    throw MapContentsError("\(at): {\"map\": \"\(inner)\"} fills maps of maps (array_of_maps, hash_of_maps); '\(name)' is a \(d.type)")
                case (.programArray, .program(let program)):
                    let index = Int(entry.key.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
                    do { try setProgram(name, index, program) } catch {
                        throw MapContentsError("\(at): cannot put program '\(program)' in slot \(index): \(error)")
                    }
                case (.programArray, _):
                    throw MapContentsError("\(at): a prog_array value is {\"program\": NAME}")
                case (_, .program(let program)):
                    throw MapContentsError("\(at): {\"program\": \"\(program)\"} fills a prog_array; '\(name)' is a \(d.type)")
                case (_, .bytes(let value)):
                    guard value.count == d.valueSize else {
                        throw MapContentsError("\(at): value is \(value.count) bytes; the map's values are \(d.valueSize) bytes")
                    }
                    let host = d.type.isPerCPU ? (0..<CPUSlots.count).flatMap { _ in padded(value, d.valueStride) } : value
                    try update(map, entry.key, host, at)
                case (_, .perCPU(let copies)):
                    guard d.type.isPerCPU else {
                        throw MapContentsError("\(at): \"values\" (one per CPU) is for per-CPU maps; '\(name)' is a \(d.type)")
                    }
                    guard copies.count == CPUSlots.count else {
                        throw MapContentsError("\(at): \"values\" has \(copies.count) copies; this host has \(CPUSlots.count) CPU slots")
                    }
                    if let bad = copies.firstIndex(where: { $0.count != d.valueSize }) {
                        throw MapContentsError("\(at): values[\(bad)] is \(copies[bad].count) bytes; the map's values are \(d.valueSize) bytes")
                    }
                    try update(map, entry.key, copies.flatMap { padded($0, d.valueStride) }, at)
                }
            }
        }
    }

    private static func padded(_ value: [UInt8], _ stride: Int) -> [UInt8] {
        value + Array(repeating: 0, count: max(0, stride - value.count))
    }

    private static func update(_ map: any BPFMap, _ key: [UInt8], _ value: [UInt8], _ at: String) throws(MapContentsError) {
        do { try map.update(key: key, value: value) } catch { throw MapContentsError("\(at): \(error)") }
    }

    /// Every map's contents in the same format (maps in object order).
    public static func json(_ maps: [any BPFMap]) -> String {
        var parts: [String] = []
        for map in maps {
            let d = map.definition
            var lines: [String] = []
            if d.type != .ringBuffer {
                for (key, value) in map.entries() {
                    let rendered: String
                    switch d.type {
                    case .programArray:
                        let index = Int(key.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
                        guard let program = (map as? ProgramArray)?.entry(at: index).target?.name else { continue }
                        rendered = "{\"program\": \(quoted(program))}"
                    case _ where d.type.isPerCPU:
                        let copies = (0..<CPUSlots.count).map { Array(value[$0 * d.valueStride..<$0 * d.valueStride + d.valueSize]) }
                        rendered = Set(copies).count == 1 ? "\"\(hexText(copies[0]))\""
                            : "[" + copies.map { "\"\(hexText($0))\"" }.joined(separator: ", ") + "]"
                        lines.append("    {\"key\": \"\(hexText(key))\", \(Set(copies).count == 1 ? "\"value\"" : "\"values\""): \(rendered)}")
                        continue
                    default:
                        rendered = "\"\(hexText(value))\""
                    }
                    lines.append("    {\"key\": \"\(hexText(key))\", \"value\": \(rendered)}")
                }
            }
            parts.append("  \(quoted(d.name)): " + (lines.isEmpty ? "[]" : "[\n" + lines.joined(separator: ",\n") + "\n  ]"))
        }
        return parts.isEmpty ? "{}" : "{\n" + parts.joined(separator: ",\n") + "\n}"
    }

    static func hexText(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined(separator: " ") }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
