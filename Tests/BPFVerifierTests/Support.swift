import BPFHelpers
import BPFISA
import BPFLoader
import BPFMaps
import BPFVerifier

/// XDP's context loads as programs write them (`struct xdp_md` offsets), before rewriting.
enum XDP {
    static func data(_ dst: Register) -> Instruction { .load(.word, dst: dst, src: .r1, offset: 0) }
    static func dataEnd(_ dst: Register) -> Instruction { .load(.word, dst: dst, src: .r1, offset: 4) }
}

/// Links (rewrites, verifies) `instructions` as an XDP program with `maps`.
func verifyXDP(_ instructions: [Instruction], maps: [any BPFMap] = []) throws -> LinkedProgram {
    try LinkedProgram(program: Program(instructions, name: "test"), type: ProgramTypes.xdp, maps: maps)
}

/// A one-element array map with `valueSize`-byte values.
func arrayMap(valueSize: Int, entries: Int = 4) throws -> any BPFMap {
    try makeMap(MapDefinition(name: "values", type: .array, keySize: 4, valueSize: valueSize, maxEntries: entries))
}
