#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import BPFConformance

/// The conformance corpus in the repository's test fixtures, found from this
/// file's path so that no resource bundle is needed.
enum Corpus {
    static let root: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false).dropLast(2)
        parts.append("Fixtures")
        parts.append("conformance")
        return parts.joined(separator: "/")
    }()

    /// Sorted `.data` paths in `tests` or `negative`.
    static func paths(_ folder: String) -> [String] {
        let directory = root + "/" + folder
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".data") }.sorted().map { directory + "/" + $0 }
    }

    static func name(_ path: String) -> String { String(path.split(separator: "/").last ?? "") }
}

/// SplitMix64: a small seeded generator, so a failing random case reproduces.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

func hexBytes(_ text: String) -> [UInt8] {
    text.split(separator: " ").map { UInt8($0, radix: 16)! }
}
