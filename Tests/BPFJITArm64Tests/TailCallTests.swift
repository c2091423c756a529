import BPFBackendTestKit
import BPFEmulator
import BPFHelpers
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITArm64
import BPFKit
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import Foundation
import BPFVerifier
import Testing

/// Indirect tail calls on the arm64 JIT under the emulator: entries changed
/// between runs and while other threads run. (The corpus, the context
/// backstop and the pipeline example run from the backend test kit's row.)
@Suite struct TailCallTests {
    /// Indirect sites only, and the entry a tail call reads changes between runs.
    @Test func entryChangedBetweenRuns() throws {
        let f = try TailCallFixture(arm64())
        let caller = try f.prepare(TailCallCases.caller(slot: 1))
        if let program = caller as? Arm64EmulatedProgram {
            #expect(program.image.tailCallSites.isEmpty && program.image.statistics.indirectTailCalls == 1)
        }
        let a = try f.target(TailCallCases.returns(7, "a")), b = try f.target(TailCallCases.returns(8, "b"))
        for (entry, expected) in [(a, 7), (b, 8), (nil, 99), (a, 7)] as [(TailCallTarget?, UInt64)] {
            if let entry { try f.array.set(entry, at: 1) } else { try f.array.clear(at: 1) }
            #expect(try f.run(caller).0 == expected)
        }
    }

    /// Threads run while another rewrites the entries: every result is a valid configuration's.
    @Test func runsWhileEntriesAreRewritten() throws {
        let f = try TailCallFixture(arm64())
        let chain = Code { Code.Item.tailCall(index: 1); Instruction.mov(.r0, 30); Instruction.exit }.program("chain")
        let a = try f.target(TailCallCases.returns(1, "a")), b = try f.target(TailCallCases.returns(2, "b"))
        let c = try f.target(chain)
        let caller = try f.prepare(TailCallCases.caller(slot: 0))
        let valid: Set<UInt64> = [99, 1, 2, 30]
        final class Box: @unchecked Sendable {
            let lock = NSLock(); var done = false; var seen: Set<UInt64> = []; var bad: [String] = []
        }
        let box = Box()
        let group = DispatchGroup()
        for _ in 0..<2 {
            group.enter()
            Thread {
                defer { group.leave() }
                while true {
                    box.lock.lock(); let done = box.done; box.lock.unlock()
                    if done { return }
                    let result: String
                    do {
                        let r0 = try f.run(caller).0
                        box.lock.lock(); box.seen.insert(r0); box.lock.unlock()
                        result = valid.contains(r0) ? "" : "returned \(r0)"
                    } catch {
                        result = "\(error)"
                    }
                    if !result.isEmpty { box.lock.lock(); box.bad.append(result); box.lock.unlock() }
                }
            }.start()
        }
        // At least 10,000 rewrites, and on until the runs have seen two
        // different outcomes (emulated runs are slow and, on a loaded
        // machine, the readers may barely run during the first 10,000);
        // at most 20 seconds.
        let deadline = Date().addingTimeInterval(20)
        var k = 0
        while k < 10_000 || (box.lock.withLock { box.seen.count } < 2 && Date() < deadline) {
            switch k % 5 {
            case 0: try f.array.set(a, at: 0)
            case 1: try f.array.set(c, at: 0)
            case 2: try f.array.set(b, at: 1)
            case 3: try f.array.clear(at: 0)
            default: try? f.array.clear(at: 1)
            }
            k += 1
        }
        box.lock.lock(); box.done = true; box.lock.unlock()
        group.wait()
        #expect(box.bad.isEmpty, "\(box.bad.prefix(5))")
        #expect(box.seen.count >= 2, "\(box.seen)")
    }
}
