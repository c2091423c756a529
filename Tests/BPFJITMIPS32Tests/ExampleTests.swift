import BPFISA
import BPFKit
import Foundation
import Testing

/// Objects of the other byte order than the JIT's are refused. (The C
/// examples themselves run on both MIPS32 rows of the backend test kit.)
@Suite(.enabled(if: (try? CCompiler()) != nil, "clang is needed to build the examples"))
struct ExampleTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples")

    /// A `bpfeb` object is refused by the little-endian MIPS32 JIT, and a
    /// `bpf` one by the big-endian JIT, with an error naming both orders.
    @Test func theOtherByteOrderIsRefused() throws {
        let path = Self.examples.appendingPathComponent("xdp_swap_mac.c").path
        var request = LoadRequest()
        request.byteOrder = .big
        let big = try ProgramFile.load(path: path, request), little = try ProgramFile.load(path: path)
        for (file, arch, words) in [(big, Architecture.mips32le, "big-endian BPF (-target bpfeb) but the mips32le JIT runs little-endian"),
                                    (little, .mips32be, "little-endian BPF (-target bpfel) but the mips32be JIT runs big-endian")] {
            do {
                _ = try LoadedProgram(file, engine: .jit, architecture: arch)
                Issue.record("\(arch) accepted the other byte order")
            } catch {
                #expect("\(error)".contains(words), "\(error)")
            }
        }
    }
}
