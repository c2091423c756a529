import BPFEmulator
import BPFRuntime
import Dispatch
import Foundation
import Synchronization
import Testing

/// Unicorn engines are not thread-safe; programs are. Runs from many
/// threads at once each get an engine of their own.
@Suite(.enabled(if: TargetAssembler.isAvailable, TargetAssembler.missingMessage))
struct ConcurrencyTests {
    @Test(arguments: [EmulatedArchitecture.arm64, .arm32, .mips32be])
    func runsFromManyThreadsAreIndependent(_ architecture: EmulatedArchitecture) throws {
        let log = CallLog()
        let machine = try Harness.machine(architecture, helpers: [CallTests.recordingHelper(log, byteOrder: architecture.byteOrder)])
        let helper = try machine.helperAddress(for: CallTests.helperID)
        let program = try Harness.program(TestPrograms.call(helper, addWordAtArg2: true, architecture), on: machine)
        let threads = 8, runsPerThread = 25
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for run in 0..<runsPerThread {
                let buffer = GuestMemory(count: 8)
                let first = UInt64(thread) << 32 | UInt64(run)
                do {
                    let result = try program.run(arguments: [.value(first), .hostPointer(buffer.address)],
                                                 regions: MemoryRegions([buffer.region(.other)]))
                    if result.value != first &+ 1042 {
                        failures.withLock { $0.append("thread \(thread) run \(run): \(result.value)") }
                    }
                } catch {
                    failures.withLock { $0.append("thread \(thread) run \(run): \(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 } == [])
        #expect(log.all.count == threads * runsPerThread)
    }

    /// Other threads change the rest of a region's page (other heap objects)
    /// while programs run: those changes are neither reported as the
    /// program's writes nor overwritten by them.
    @Test(arguments: [EmulatedArchitecture.riscv64, .mips32le])
    func hostChangesBesideARegionAreLeftAlone(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let program = try Harness.program(TestPrograms.copyWord(architecture), on: machine)
        let memory = GuestMemory(count: 3 * 4096)
        let page = Int((memory.address + 4095) & ~4095 - memory.address)
        let region = MemoryRegion(start: memory.address + UInt64(page), count: 64, writable: true, kind: .packet)
        memory.write(Harness.bytes(1, architecture.byteOrder), at: page + 8)
        let running = Atomic<Bool>(true)
        let scribbler = Thread {
            var value: UInt8 = 0
            while running.load(ordering: .relaxed) {
                value &+= 1
                memory.write([UInt8](repeating: value, count: 256), at: page + 1024)
            }
        }
        scribbler.start()
        defer { running.store(false, ordering: .relaxed) }
        for _ in 0..<20000 {
            let run = try program.run(arguments: [.hostPointer(region.start), .hostPointer(region.start)],
                                      regions: MemoryRegions([region]))
            #expect(run.value == 1)
        }
        #expect(Harness.word(memory, at: page + 16, architecture.byteOrder) == 2)
    }

    @Test func programsOfOneMachineRunConcurrently() throws {
        let machine = try Harness.machine(.riscv64)
        let programs = try (0..<4).map { index in
            try Harness.program(TestPrograms.constant(UInt64(index) * 0x1_0000_0001, .riscv64), on: machine)
        }
        let results = Mutex<[UInt64]>([])
        DispatchQueue.concurrentPerform(iterations: 16) { iteration in
            let value = (try? programs[iteration % 4].run().value) ?? .max
            results.withLock { $0.append(value) }
        }
        let expected = (0..<16).map { UInt64($0 % 4) * 0x1_0000_0001 }
        #expect(results.withLock { $0 }.sorted() == expected.sorted())
    }
}
