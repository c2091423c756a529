import Foundation
import Testing

/// The adversarial corpus on the arm64 JIT, under the emulator on hosts
/// that are not arm64 (which is why `scripts/test` runs this suite in the
/// process of the emulator's tests). The contract is `CorpusTests`'s.
@Suite(.serialized, .enabled(if: clangAvailable, "clang and the libbpf headers build the corpus"))
struct EmulatedCorpusTests {
    @Test func everyEntryEndsAsOnTheInterpreterOrIsRefusedOnArm64() throws {
        #if !arch(arm64)
        var records: [EntryRecord] = []
        for entry in CorpusEntry.all {
            do { records.append(try check(entry, sides: [.arm64])) } catch {
                Issue.record("\(entry.file): \(error)")
            }
        }
        print(summary(records, title: "Adversarial corpus (arm64 JIT, emulated, against the interpreter)"))
        #endif
    }
}
