import BPFHelpers
import BPFMaps
import BPFRuntime

/// A run that stopped with an error, told in the program's terms: an access
/// outside its memory names the region and the offset within it ("packet
/// offset 100, length 64", "map value 'counts' offset 12, size 8") instead
/// of a host address, with a hint when the program type is probably wrong.
public struct RunError: Error, Sendable, CustomStringConvertible {
    /// The engine's error, with host addresses.
    public let error: ExecutionError
    /// Where the access fell, in the program's terms, when it fell near a region it knows.
    public let location: String?
    /// A likely cause the program itself cannot show (e.g. the wrong `--type`).
    public let hint: String?
    /// The C source line of the failing instruction, when the object has BTF line information.
    public let sourceLine: SourceLine?
    /// The program the run stopped in, when a tail call had left the one the
    /// host entered (the error's pc is in its numbering).
    public let program: String?

    public var pc: Int { error.pc }

    public var description: String {
        var text: String
        if case .outOfBounds(let pc, _, let size, let write) = error, let location {
            text = "instruction \(pc): \(write ? "write" : "read") of \(size) byte\(size == 1 ? "" : "s") at \(location)"
        } else {
            text = error.description
        }
        if let program { text = "in tail-called program '\(program)': " + text }
        if let sourceLine { text += "\n  \(sourceLine)" }
        if let hint { text += "\nhint: \(hint)" }
        return text
    }

    /// Explains `error` from a run of a `type` program over `regions` (the
    /// run's, at the time it stopped) with `maps`.
    init(_ error: ExecutionError, regions: [NamedRegion], maps: [any BPFMap], type: any ProgramType, sourceLine: SourceLine? = nil,
         program: String? = nil) {
        self.error = error
        self.sourceLine = sourceLine
        self.program = program
        guard case .outOfBounds(_, let address, let size, _) = error else {
            location = nil; hint = nil; return
        }
        let location = Self.locate(address, size: size, regions: regions, maps: maps)
        self.location = location
        // A `mem` program handed what it takes for a pointer to a context
        // (`struct xdp_md`'s 32-bit packet offsets) dereferences small numbers
        // far from any region.
        if location == nil, type.name == MemProgramType().name, address < 1 << 32 {
            hint = "under --type mem, r1 points to the input bytes; a program whose argument is a context (struct xdp_md) runs with --type xdp"
        } else {
            hint = nil
        }
    }

    /// How far past a region's end, and before its start, an access still
    /// counts as that region's (an index or a length off by some).
    static let slack: UInt64 = 4096
    static let slackBefore: UInt64 = 512

    /// The region `address` is in or nearest to (within `slack`), with the offset within it.
    static func locate(_ address: UInt64, size: Int, regions: [NamedRegion], maps: [any BPFMap]) -> String? {
        var best: (distance: UInt64, text: String)?
        func consider(_ start: UInt64, _ count: Int, _ text: (Int64) -> String) {
            let end = start &+ UInt64(count)
            let distance: UInt64 = address < start ? start - address : (address >= end ? address - end + 1 : 0)
            guard distance <= (address < start ? slackBefore : slack), best == nil || distance < best!.distance else { return }
            best = (distance, text(Int64(bitPattern: address &- start)))
        }
        for region in regions where region.count > 0 {
            consider(region.start, region.count) { "\(region.name) offset \($0), length \(region.count)" }
        }
        for map in maps {
            for values in map.valueRegions where values.stride > 0 && values.count > 0 {
                let start = values.start, end = values.end
                guard address >= start, address < end &+ slack else { continue }
                // The element holding it (past the end: the last), and the offset in its value.
                let element = min((address - start) / UInt64(values.stride), UInt64(values.count - 1))
                let elementStart = start + element * UInt64(values.stride)
                consider(elementStart, values.stride) { "map value '\(map.name)' offset \($0), size \(map.definition.valueSize)" }
            }
        }
        return best?.text
    }
}
