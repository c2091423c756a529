import Foundation
import Testing
@testable import BPFELF

@Test func scratch() throws {
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "/tmp/rt/t.o")))
    let o = try ObjectFile(bytes: bytes)
    for m in o.maps { print(m.definition, m.origin, m.initialData ?? []) }
    for p in o.programs { print(p.name, p.section, p.subprogramsStart as Any); for (i, ins) in p.program.instructions.enumerated() { print(i, ins) } }
    print(o.license as Any)
}
