import BPFEmulator
import BPFRuntime
import Testing

/// Faults, traps and runaway code end the run with a typed error naming the
/// instruction, never with a host crash.
@Suite(.enabled(if: TargetAssembler.isAvailable, TargetAssembler.missingMessage))
struct FaultTests {
    /// Every 4-byte native instruction is its own BPF instruction.
    static func oneToOne(_ bytes: [UInt8]) -> NativePCMap {
        NativePCMap(instructionOffsets: Array(stride(from: 0, to: bytes.count, by: 4)))
    }

    static func load(_ source: String, _ machine: EmulatedMachine, limit: UInt64 = 1_000_000) throws -> (EmulatedProgram, [UInt8]) {
        let bytes = try TargetAssembler.assemble(source, for: machine.architecture)
        let reservation = try machine.reserveImage(size: bytes.count)
        return (try machine.load(image: bytes, in: reservation, pcMap: oneToOne(bytes), instructionLimit: limit), bytes)
    }

    static func instructions(_ source: String, _ architecture: EmulatedArchitecture) throws -> Int {
        try TargetAssembler.assemble(source, for: architecture).count / 4
    }

    @Test(arguments: EmulatedArchitecture.all)
    func readingUnmappedMemoryNamesTheLoadAndTheAddress(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let (program, _) = try Self.load(TestPrograms.load(from: 0x18, architecture), machine)
        let loadIndex = try Self.instructions(TestPrograms.loadAddress(0x18, into: TestPrograms.scratch(architecture), architecture),
                                              architecture)
        let error = Harness.error { () throws(ExecutionError) in try program.run() }
        #expect(error == .outOfBounds(pc: loadIndex, address: 0x18, size: architecture.wordSize, write: false))
    }

    @Test(arguments: EmulatedArchitecture.all)
    func writingReadOnlyMemoryFaultsAndChangesNothing(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let (program, _) = try Self.load(TestPrograms.store(offset: 4, architecture), machine)
        let memory = GuestMemory(count: 16)
        let error = Harness.error { () throws(ExecutionError) in
            try program.run(arguments: [.hostPointer(memory.address), .value(0xAAAA_AAAA)],
                            regions: MemoryRegions([memory.region(.context, writable: false)]))
        }
        #expect(error == .outOfBounds(pc: 0, address: memory.address + 4, size: 4, write: true))
        #expect(memory.read() == [UInt8](repeating: 0, count: 16))
    }

    @Test(arguments: EmulatedArchitecture.all)
    func aStrayWriteIntoARegionsPageIsReportedAndNeverReachesTheHost(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let (program, bytes) = try Self.load(TestPrograms.store(offset: 40, architecture), machine)
        // The region is 16 bytes at the start of a page; byte 40 shares the page but belongs to the host.
        let memory = GuestMemory(count: 2 * 4096)
        let page = Int((memory.address + 4095) & ~4095 - memory.address)
        let region = MemoryRegion(start: memory.address + UInt64(page), count: 16, writable: true, kind: .input)
        let error = Harness.error { () throws(ExecutionError) in
            try program.run(arguments: [.hostPointer(region.start), .value(0x1234_5678)], regions: MemoryRegions([region]))
        }
        guard case .outOfBounds(let pc, let address, let size, true) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(address == region.start + 40 && (1...4).contains(size))
        #expect(pc == bytes.count / 4 - 1, "found when memory is written back, at the end of the run")
        #expect(memory.read() == [UInt8](repeating: 0, count: 2 * 4096))
    }

    @Test(arguments: EmulatedArchitecture.all)
    func anEndlessLoopStopsAtTheInstructionLimit(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let (program, _) = try Self.load(TestPrograms.endlessLoop(architecture), machine, limit: 1000)
        let error = Harness.error { () throws(ExecutionError) in try program.run() }
        // The 1,001st instruction does not run: on MIPS that is the branch's delay slot.
        let stoppedAt = architecture.name.hasPrefix("mips") ? 2 : 1
        #expect(error == .instructionLimit(pc: stoppedAt, limit: 1000))
        // A per-run limit overrides the program's.
        let lower = Harness.error { () throws(ExecutionError) in try program.run(instructionLimit: 10) }
        #expect(lower == .instructionLimit(pc: stoppedAt, limit: 10))
    }

    @Test(arguments: EmulatedArchitecture.all)
    func theLimitIsExact(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let (source, expected) = TestPrograms.countdown(architecture)
        let (program, _) = try Self.load(source, machine)
        let needed = expected(5)
        #expect(try program.run(arguments: [.value(5)], instructionLimit: needed).instructionCount == needed)
        let error = Harness.error { () throws(ExecutionError) in
            try program.run(arguments: [.value(5)], instructionLimit: needed - 1)
        }
        guard case .instructionLimit = error else {
            Issue.record("expected the limit, got \(String(describing: error))")
            return
        }
    }

    @Test(arguments: EmulatedArchitecture.all)
    func jumpingOutsideTheCodeNamesTheJump(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let data = GuestMemory(count: 64)
        for target in [0x1000, data.address] {
            let source = TestPrograms.jump(to: target, architecture)
            let (program, bytes) = try Self.load(source, machine)
            // The last instruction; on MIPS the jump's delay slot, which belongs to it.
            let jumpIndex = bytes.count / 4 - 1
            let error = Harness.error { () throws(ExecutionError) in
                try program.run(regions: MemoryRegions([data.region(.input)]))
            }
            if target == 0x1000 || architecture.addressModel == .identity {
                #expect(error == .invalidProgramCounter(pc: jumpIndex), "target 0x\(String(target, radix: 16))")
            }
        }
    }

    @Test(arguments: EmulatedArchitecture.all)
    func fallingIntoTrapFillNamesTheLastInstruction(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        // A single no-op: execution runs on into the traps that fill the image's page.
        let (program, _) = try Self.load("nop", machine)
        let error = Harness.error { () throws(ExecutionError) in try program.run() }
        #expect(error == .invalidProgramCounter(pc: 0))
    }

    @Test(arguments: [EmulatedArchitecture.arm64, .riscv64])
    func anUndefinedInstructionIsReported(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let program = try machine.load(image: [0, 0, 0, 0], in: try machine.reserveImage(size: 4))
        let error = Harness.error { () throws(ExecutionError) in try program.run() }
        guard case .unsupported(0, let what) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(what.contains("instruction 0x0"))
    }

    @Test(arguments: EmulatedArchitecture.all)
    func overflowingTheStackFaults(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let (program, _) = try Self.load(TestPrograms.overflowStack(architecture), machine)
        let error = Harness.error { () throws(ExecutionError) in try program.run() }
        guard case .outOfBounds(let pc, _, _, true) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(pc == (architecture.name == "riscv64" || architecture.name.hasPrefix("mips") ? 2 : 1))
    }

    @Test(arguments: EmulatedArchitecture.all)
    func notRestoringACalleeSavedRegisterIsAnError(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let (source, register) = TestPrograms.clobberCalleeSaved(architecture)
        let (program, _) = try Self.load(source, machine)
        let error = Harness.error { () throws(ExecutionError) in try program.run() }
        guard case .unsupported(_, let what) = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(what.contains("callee-saved \(register)"))
    }

    @Test(arguments: EmulatedArchitecture.all)
    func theEngineKeepsWorkingAfterAFault(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let (program, _) = try Self.load(TestPrograms.copyWord(architecture), machine)
        let input = GuestMemory(count: 16), output = GuestMemory(count: 32)
        input.write(Harness.bytes(5, architecture.byteOrder), at: 8)
        let regions = MemoryRegions([input.region(.input), output.region(.other)])
        // Output pointer outside every region: the store faults.
        #expect(Harness.error { () throws(ExecutionError) in
            try program.run(arguments: [.hostPointer(input.address), .value(0x40)], regions: regions)
        } != nil)
        let run = try program.run(arguments: [.hostPointer(input.address), .hostPointer(output.address)], regions: regions)
        #expect(run.value == 5)
    }
}
