import BPFISA
import BPFJIT
import BPFKit
import BPFMaps
import BPFRuntime
import BPFTestSuite
import Foundation
import Testing

/// Several threads run programs while another rewrites their program-array
/// entries 100,000 times: every run returns the result of a valid
/// configuration and nothing crashes. On the x86 JIT the sites are direct,
/// so this exercises the live patching of running code.
@Suite(.serialized) struct ConcurrencyTests {
    static let rewrites = 100_000
    static let runners = 3

    final class Tally: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var seen: [UInt64: Int] = [:]
        private(set) var invalid: [String] = []
        private(set) var errors: [String] = []
        func record(_ value: UInt64, valid: Bool, program: String) {
            lock.lock(); defer { lock.unlock() }
            seen[value, default: 0] += 1
            if !valid && invalid.count < 10 { invalid.append("\(program) returned \(value)") }
        }
        func fail(_ error: any Error) {
            lock.lock(); defer { lock.unlock() }
            if errors.count < 10 { errors.append("\(error)") }
        }
        /// Whether both programs' runs have seen at least two configurations.
        var sawSeveral: Bool {
            lock.lock(); defer { lock.unlock() }
            return seen.keys.filter { $0 < 1000 }.count >= 2 && seen.keys.filter { $0 >= 1000 }.count >= 2
        }
    }

    /// A tiny deterministic generator (the writer's choices).
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }

    @Test(arguments: engines.map(\.name))
    func runsWhileEntriesAreRewritten(_ name: String) throws {
        let f = try Fixture(engines.first { $0.name == name }!)
        // slot 0: empty, A (1) or C (tail-calls slot 1, else 30); slot 1: empty, A (1) or B (2).
        let main = Code { Code.Item.tailCall(index: 0); Instruction.mov(.r0, 99); Instruction.exit }.program("main")
        let viaSub = Code {
            Code.Item.call("sub")
            Instruction.add(.r0, 1000)
            Instruction.exit
            Code.Item.label("sub")
            Code.Item.tailCall(index: 0)
            Instruction.mov(.r0, 99)
            Instruction.exit
        }.program("viaSub")
        let chain = Code { Code.Item.tailCall(index: 1); Instruction.mov(.r0, 30); Instruction.exit }.program("chain")
        let a = try f.target(returns(1, "a")), b = try f.target(returns(2, "b")), c = try f.target(chain)
        let valid: Set<UInt64> = [99, 1, 2, 30]
        let programs = [("main", try f.prepare(main), Set(valid)), ("viaSub", try f.prepare(viaSub), Set(valid.map { $0 + 1000 }))]

        let tally = Tally()
        let done = Done()
        let finished = DispatchGroup()
        for runner in 0..<Self.runners {
            finished.enter()
            Thread {
                defer { finished.leave() }
                let input = Array(repeating: UInt8(0), count: 64)
                var k = runner
                while !done.value {
                    let (label, prepared, expected) = programs[k % programs.count]
                    k += 1
                    do {
                        let r0 = try f.run(prepared, input: input).0
                        tally.record(r0, valid: expected.contains(r0), program: label)
                    } catch {
                        tally.fail(error)
                    }
                }
            }.start()
        }
        var random = SplitMix(state: 7)
        // The rewrites, and on until the runs have seen several configurations
        // (on a loaded machine the runners may barely run at first); at most 20 s.
        let deadline = Date().addingTimeInterval(20)
        var rewrites = 0
        while rewrites < Self.rewrites || (!tally.sawSeveral && Date() < deadline) {
            rewrites += 1
            let choice = random.next()
            let slot = Int(choice & 1)
            switch (slot, (choice >> 1) % 3) {
            case (0, 0), (1, 0): try? f.array.clear(at: slot)
            case (0, 1), (1, 1): try f.array.set(a, at: slot)
            case (0, _): try f.array.set(c, at: slot)
            default: try f.array.set(b, at: slot)
            }
        }
        done.set()
        finished.wait()

        #expect(tally.errors.isEmpty, "\(tally.errors)")
        #expect(tally.invalid.isEmpty, "\(tally.invalid)")
        let runs = tally.seen.values.reduce(0, +)
        print("tail-call concurrency on \(name): \(rewrites) rewrites, \(runs) runs, results \(tally.seen.sorted { $0.key < $1.key })")
        #expect(runs > 0)
        #expect(tally.sawSeveral, "runs saw several configurations")
        // Settled: each program gives the result of the final configuration.
        try f.array.set(c, at: 0)
        try f.array.set(b, at: 1)
        #expect(try f.run(programs[0].1).0 == 2 && f.run(programs[1].1).0 == 1002)
        for (_, prepared, _) in programs {
            if let native = prepared as? NativeProgram {
                #expect(native.tailCallSiteStates.allSatisfy { !$0.bypassActive && $0.patchFailures == 0 },
                        "direct sites are patched in: \(native.tailCallSiteStates)")
            }
        }
    }

    final class Done: @unchecked Sendable {
        private let lock = NSLock()
        private var flag = false
        var value: Bool { lock.lock(); defer { lock.unlock() }; return flag }
        func set() { lock.lock(); flag = true; lock.unlock() }
    }
}
