import BPFEmulator
import BPFISA
import BPFRuntime
import Synchronization
import Testing

/// Helper and runtime calls through the trampolines, on every target.
@Suite(.enabled(if: TargetAssembler.isAvailable, TargetAssembler.missingMessage))
struct CallTests {
    static let helperID: Int32 = 7

    /// Records its arguments, stores 42 (in the target's byte order) at the
    /// pointer in r2, and returns r1 + 1000.
    static func recordingHelper(_ log: CallLog, byteOrder: ByteOrder) -> Helper {
        Helper(id: helperID, name: "test_record",
               prototype: HelperPrototype([.scalar(bits: 64), .pointer(readOnly: false), .scalar(bits: 64),
                                           .scalar(bits: 64), .scalar(bits: 64)], returns: .scalar(bits: 64))) { call throws(HelperError) in
            log.record(call)
            let value: UInt32 = byteOrder == .big ? UInt32(42).bigEndian : 42
            try call.memory.store(value, at: call.argument(2))
            return call.argument(1) &+ 1000
        }
    }

    @Test(arguments: EmulatedArchitecture.all)
    func helperGetsItsArgumentsAndItsResultAndWritesReturn(_ architecture: EmulatedArchitecture) throws {
        let log = CallLog()
        let machine = try Harness.machine(architecture, helpers: [Self.recordingHelper(log, byteOrder: architecture.byteOrder)])
        let helper = try machine.helperAddress(for: Self.helperID)
        #expect(machine.trampolineArea.contains(helper))
        let program = try Harness.program(TestPrograms.call(helper, addWordAtArg2: true, architecture), on: machine)
        let buffer = GuestMemory(count: 16)
        let first: UInt64 = 0x1_0000_0007  // a high word, to cross register pairs whole
        let run = try program.run(arguments: [.value(first), .hostPointer(buffer.address + 4)],
                                  regions: MemoryRegions([buffer.region(.other)]))
        // The helper's result came back, and the word it stored was visible to the program.
        #expect(run.value == first + 1000 + 42)
        #expect(run.calls == 1)
        // Pointers arrive as host addresses whatever the target's address model.
        #expect(log.all == [[first, buffer.address + 4, 3, 4, 5]])
        #expect(Harness.word(buffer, at: 4, architecture.byteOrder) == 42)
    }

    @Test(arguments: EmulatedArchitecture.all)
    func runtimeCallsRunSwiftClosures(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let divide = RuntimeCall(name: "udiv64", argumentCount: 2) { call throws(HelperError) in
            guard call.argument(2) != 0 else { return 0 }
            return call.argument(1) / call.argument(2)
        }
        let address = try machine.runtimeCallAddress(for: divide)
        #expect(try machine.runtimeCallAddress(for: divide) == address, "one slot per name")
        let program = try Harness.program(TestPrograms.call(address, addWordAtArg2: false, architecture), on: machine)
        let run = try program.run(arguments: [.value(0x7_0000_0000_0001), .value(3)])
        #expect(run.value == 0x7_0000_0000_0001 / 3)
    }

    @Test(arguments: [EmulatedArchitecture.arm32, .mips32be])
    func runtimeCallsReachMemoryByGuestAddress(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        // A 64-bit fetch-and-add, as a 32-bit backend would implement BPF_ATOMIC | BPF_DW.
        let fetchAdd = RuntimeCall(name: "atomic64_fetch_add", argumentCount: 2) { call throws(HelperError) in
            let old = try call.memory.load(UInt64.self, at: call.argument(1))
            try call.memory.store(old &+ call.argument(2), at: call.argument(1))
            return old
        }
        let address = try machine.runtimeCallAddress(for: fetchAdd)
        let program = try Harness.program(TestPrograms.call(address, addWordAtArg2: false, architecture), on: machine)
        let counter = GuestMemory(count: 8)
        let initial: UInt64 = 0xFFFF_FFFF
        counter.store(architecture.byteOrder == .big ? initial.bigEndian : initial, at: 0)
        let run = try program.run(arguments: [.hostPointer(counter.address), .value(1)],
                                  regions: MemoryRegions([counter.region(.mapValue)]))
        #expect(run.value == initial)
        let stored = counter.load(UInt64.self, at: 0)
        #expect((architecture.byteOrder == .big ? UInt64(bigEndian: stored) : stored) == 0x1_0000_0000)
    }

    @Test(arguments: EmulatedArchitecture.all)
    func unknownAndFailingHelpersStopTheRunAtTheCall(_ architecture: EmulatedArchitecture) throws {
        let failing = Helper(id: 9, name: "test_fail", prototype: HelperPrototype([], returns: .scalar(bits: 64))) {
            _ throws(HelperError) in throw HelperError("refused")
        }
        let machine = try Harness.machine(architecture, helpers: [failing])
        for (id, expected) in [(Int32(8), "unknown"), (9, "failed")] {
            let source = TestPrograms.call(try machine.helperAddress(for: id), addWordAtArg2: false, architecture)
            let bytes = try TargetAssembler.assemble(source, for: architecture)
            // Each native instruction is its own BPF instruction here.
            let program = try Harness.program(source, on: machine,
                                              pcMap: NativePCMap(instructionOffsets: Array(stride(from: 0, to: bytes.count, by: 4))))
            let error = Harness.error { () throws(ExecutionError) in try program.run() }
            let callIndex = try #require(try callInstructionIndex(bytes, architecture))
            switch error {
            case .unknownHelper(let pc, 8) where expected == "unknown":
                #expect(pc == callIndex)
            case .helperFailed(let pc, 9, "refused") where expected == "failed":
                #expect(pc == callIndex)
            default:
                Issue.record("helper \(id): unexpected \(String(describing: error))")
            }
        }
    }

    /// A helper that runs another program (as bpf_loop or a nested engine
    /// would), and a program that jumps into a third one's image (as a tail
    /// call does): the nested run gets an engine of its own, which maps the
    /// jumped-to image when execution first reaches it.
    @Test(arguments: [EmulatedArchitecture.arm64, .mips32le])
    func nestedRunsAndJumpsIntoAnotherImage(_ architecture: EmulatedArchitecture) throws {
        final class Slot: Sendable { let program = Mutex<EmulatedProgram?>(nil) }
        let slot = Slot()
        let runNested = Helper(id: 5, name: "test_nested", prototype: HelperPrototype([], returns: .scalar(bits: 64))) {
            _ throws(HelperError) in
            guard let program = slot.program.withLock({ $0 }) else { throw HelperError("nothing to run") }
            do {
                return try program.run().value
            } catch {
                throw HelperError("nested run: \(error)")
            }
        }
        let machine = try Harness.machine(architecture, helpers: [runNested])
        let target = try Harness.program(TestPrograms.constant(99, architecture), on: machine)
        let jumper = try Harness.program(TestPrograms.jump(to: target.entryAddress, architecture), on: machine)
        slot.program.withLock { $0 = jumper }
        let outer = try Harness.program(TestPrograms.call(try machine.helperAddress(for: 5), addWordAtArg2: false, architecture),
                                        on: machine)
        let run = try outer.run()
        #expect(run.value == 99)
        #expect(run.calls == 1)
        #expect(try jumper.run().value == 99)
    }

    @Test func callerSavedRegistersArePoisonedAcrossCalls() throws {
        let machine = try Harness.machine(.arm64)
        let quiet = RuntimeCall(name: "nothing", argumentCount: 0) { _ throws(HelperError) in 0 }
        let program = try Harness.program(TestPrograms.keepAcrossCall(try machine.runtimeCallAddress(for: quiet)), on: machine)
        #expect(try program.run().value == 0xDEAD_BEEF_DEAD_BEEF, "x9 does not survive a call")

        let trusting = try EmulatedMachine(architecture: .arm64,
                                           configuration: .init(poisonsCallerSavedRegisters: false))
        let kept = try Harness.program(TestPrograms.keepAcrossCall(try trusting.runtimeCallAddress(for: quiet)), on: trusting)
        #expect(try kept.run().value == 5)
    }

    @Test func nearImagesCallHelpersDirectlyAndFarOnesCannot() throws {
        let machine = try Harness.machine(.arm64, helpers: [
            Helper(id: 1, name: "forty_two", prototype: HelperPrototype([], returns: .scalar(bits: 64))) { _ throws(HelperError) in 42 },
        ])
        let helper = try machine.helperAddress(for: 1)
        let near = try machine.reserveImage(size: 16, placement: .nearHelpers)
        let far = try machine.reserveImage(size: 16, placement: .farFromHelpers)
        let bl = Int64(1) << 27  // arm64 `bl` reaches ±128 MiB
        #expect(abs(Int64(bitPattern: helper &- near.address)) < bl)
        #expect(abs(Int64(bitPattern: helper &- far.address)) >= 1 << 30)
        let bytes = try TargetAssembler.assemble(TestPrograms.directCall(helper, image: near.address), for: .arm64)
        let program = try machine.load(image: bytes, in: near)
        #expect(try program.run().value == 42)
        // The far image reaches the same helper through a register.
        let indirect = try TargetAssembler.assemble(TestPrograms.call(helper, addWordAtArg2: false, .arm64), for: .arm64)
        #expect(try machine.load(image: indirect, in: far).run().value == 42)
    }

    @Test(arguments: [EmulatedArchitecture.arm32, .mips32le, .riscv64])
    func farPlacementIsOutOfDirectReachOnEveryTarget(_ architecture: EmulatedArchitecture) throws {
        let machine = try Harness.machine(architecture)
        let near = try machine.reserveImage(size: 4096)
        let far = try machine.reserveImage(size: 4096, placement: .farFromHelpers)
        let area = machine.trampolineArea
        #expect(near.address - area.upperBound < 1 << 20, "within RISC-V jal's ±1 MiB")
        // Above or below, at least 1 GiB from every slot.
        let distance = far.address > area.upperBound ? far.address - area.upperBound : area.lowerBound - far.address
        #expect(distance >= 1 << 30)
        // Reservations are returned when released.
        var released: UInt64 = 0
        do { released = try machine.reserveImage(size: 4096).address }
        #expect(try machine.reserveImage(size: 4096).address == released)
    }

    /// Index of the call instruction (`blr`, `blx`, `jalr`) among 4-byte instructions.
    private func callInstructionIndex(_ bytes: [UInt8], _ architecture: EmulatedArchitecture) throws -> Int? {
        let call = switch architecture.name {
        case "arm64": "blr x9"
        case "arm32": "blx r12"
        case "riscv64": "jalr t0"
        default: "jalr $t9"
        }
        let encoding = try TargetAssembler.encoding(of: call, for: architecture)
        return stride(from: 0, to: bytes.count, by: 4).first { Array(bytes[$0..<$0 + 4]) == encoding }.map { $0 / 4 }
    }
}
