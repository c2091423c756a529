import BPFEmulator
import BPFRuntime
import Testing

/// Arguments, results, memory and instruction counts on every target.
@Suite(.enabled(if: TargetAssembler.isAvailable, TargetAssembler.missingMessage))
struct RunTests {
    @Test(arguments: EmulatedArchitecture.all)
    func fiveArgumentsArriveAndTheSumReturns(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let source = TestPrograms.sum(architecture)
        let program = try Harness.program(source, on: machine)
        // Carries out of the low word on the 32-bit targets, high words everywhere.
        let values: [UInt64] = [0x1_FFFF_FFFF, 0x2_0000_0001, 0xFFFF_FFFF, 0x4_0000_0000, 0x8000_0000_0000_0005]
        let run = try program.run(arguments: values.map { .value($0) })
        #expect(run.value == values.reduce(0, &+))
        // Straight-line code: every instruction (MIPS delay slot included) runs once.
        let bytes = try TargetAssembler.assemble(source, for: architecture)
        #expect(run.instructionCount == UInt64(bytes.count / 4))
        #expect(run.calls == 0)
    }

    @Test(arguments: EmulatedArchitecture.all)
    func loadsFromOneRegionAndStoresToAnother(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let program = try Harness.program(TestPrograms.copyWord(architecture), on: machine)
        let input = GuestMemory(count: 32), output = GuestMemory(count: 32)
        input.write(Harness.bytes(0x1234_5678, architecture.byteOrder), at: 8)
        let regions = MemoryRegions([input.region(.input, writable: false), output.region(.other)])
        let run = try program.run(arguments: [.hostPointer(input.address), .hostPointer(output.address)], regions: regions)
        #expect(run.value == 0x1234_5678)
        #expect(Harness.word(output, at: 16, architecture.byteOrder) == 0x1234_5679)
        #expect(output.read(at: 0, count: 16) == [UInt8](repeating: 0, count: 16), "only the stored word changes")
        // Runs again with other contents: memory is copied in afresh each run.
        input.write(Harness.bytes(41, architecture.byteOrder), at: 8)
        #expect(try program.run(arguments: [.hostPointer(input.address), .hostPointer(output.address)], regions: regions).value == 41)
        #expect(Harness.word(output, at: 16, architecture.byteOrder) == 42)
    }

    @Test(arguments: EmulatedArchitecture.all)
    func returnsAFull64BitValue(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let program = try Harness.program(TestPrograms.constant(0x1122_3344_5566_7788, architecture), on: machine)
        #expect(try program.run().value == 0x1122_3344_5566_7788)
    }

    @Test(arguments: [EmulatedArchitecture.mips32le, .mips32be])
    func mipsReadsMemoryInItsByteOrder(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let program = try Harness.program(TestPrograms.copyWord(architecture), on: machine)
        let input = GuestMemory(bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78])
        let output = GuestMemory(count: 32)
        let run = try program.run(arguments: [.hostPointer(input.address), .hostPointer(output.address)],
                                  regions: MemoryRegions([input.region(.input), output.region(.other)]))
        #expect(run.value == (architecture.byteOrder == .big ? 0x1234_5678 : 0x7856_3412))
        // The stored word, value + 1, lands in the same byte order.
        let expected: [UInt8] = architecture.byteOrder == .big ? [0x12, 0x34, 0x56, 0x79] : [0x13, 0x34, 0x56, 0x78]
        #expect(output.read(at: 16, count: 4) == expected)
    }

    @Test(arguments: EmulatedArchitecture.all)
    func countsEveryExecutedInstruction(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let (source, expected) = TestPrograms.countdown(architecture)
        let program = try Harness.program(source, on: machine)
        for iterations: UInt64 in [1, 10, 1000] {
            let run = try program.run(arguments: [.value(iterations)])
            #expect(run.value == 7)
            #expect(run.instructionCount == expected(iterations), "\(iterations) iterations")
        }
    }

    @Test(arguments: EmulatedArchitecture.all)
    func theEngineProtocolPassesPointersAndScalars(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let program = try Harness.program(TestPrograms.copyWord(architecture), on: machine)
        let input = GuestMemory(count: 32), output = GuestMemory(count: 32)
        input.write(Harness.bytes(99, architecture.byteOrder), at: 8)
        let prepared: any PreparedProgram = program
        // r2 points into a region too, so both travel as pointers.
        let value = try prepared.run(RunInput(r1: input.address, r2: output.address,
                                              regions: MemoryRegions([input.region(.input), output.region(.other)])))
        #expect(value == 99)
        #expect(Harness.word(output, at: 16, architecture.byteOrder) == 100)
    }

    @Test func translatedAddressesArePredictable() throws {
        let machine = try Harness.machine(.arm32)
        // Returns its first argument: the guest address the machine gave the pointer.
        let program = try Harness.program("bx lr", on: machine)
        let first = GuestMemory(count: 100), second = GuestMemory(count: 5000)
        let regions = MemoryRegions([second.region(.input), first.region(.context)])
        let space = try machine.guestAddressSpace(for: regions)
        for memory in [first, second] {
            let guest = try #require(space.guestAddress(forHost: memory.address + 3))
            #expect(guest < 0x8000_0000)
            #expect(guest & 0xFFF == (memory.address + 3) & 0xFFF, "offsets within a page are kept")
            #expect(space.hostAddress(forGuest: guest) == memory.address + 3)
            let run = try program.run(arguments: [.hostPointer(memory.address + 3)], regions: regions)
            #expect(run.value == guest)
        }
        #expect(space.guestAddress(forHost: 0x1000) == nil)
    }

    @Test(arguments: [EmulatedArchitecture.arm64, .mips32le])
    func aReleasedAddressRunsTheNewImageLoadedThere(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        var address: UInt64 = 0
        do {
            let first = try Harness.program(TestPrograms.constant(1, architecture), on: machine)
            #expect(try first.run().value == 1)
            address = first.address
        }
        // Same machine, same engine, same address: the old translation must not run.
        let second = try Harness.program(TestPrograms.constant(2, architecture), on: machine)
        #expect(second.address == address)
        #expect(try second.run().value == 2)
    }

    @Test func imagesSharingAPageTakeTurnsOnOneEngine() throws {
        let machine = try Harness.machine(.arm64)
        let room = try machine.reserveImage(size: 4096)
        let programs = try [7, 8].enumerated().map { index, value in
            try machine.load(image: TargetAssembler.assemble(TestPrograms.constant(UInt64(value), .arm64), for: .arm64),
                             at: room.address + UInt64(64 * index))
        }
        for round in 0..<3 {
            #expect(try programs[0].run().value == 7, "round \(round)")
            #expect(try programs[1].run().value == 8, "round \(round)")
        }
    }

    @Test func identityAddressesAreHostAddresses() throws {
        let machine = try Harness.machine(.arm64)
        #expect(machine.addressModel == .identity)
        let program = try Harness.program("ret", on: machine)
        let memory = GuestMemory(count: 8)
        let run = try program.run(arguments: [.hostPointer(memory.address)], regions: MemoryRegions([memory.region(.input)]))
        #expect(run.value == memory.address)
    }
}
