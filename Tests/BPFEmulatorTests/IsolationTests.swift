import BPFEmulator
import BPFRuntime
import Testing

/// Programs that follow one another on a machine (and on each of its
/// engines) see nothing of each other: not the code translated from an
/// image at the same address, not what the last one left on the stack,
/// not the helpers of a machine's earlier tenants.
@Suite(.enabled(if: TargetAssembler.isAvailable, TargetAssembler.missingMessage))
struct IsolationTests {
    static let marker: UInt64 = 0x1234

    /// Stores `marker` 16 bytes below the entry stack pointer; returns 0.
    static func leaveMarker(_ a: EmulatedArchitecture) -> String {
        switch a.name {
        case "arm64": "movz x9, #\(marker)\nstr x9, [sp, #-16]\nmov x0, #0\nret"
        case "riscv64": "li t0, \(marker)\nsd t0, -16(sp)\nli a0, 0\nret"
        case "arm32": "movw r12, #\(marker)\nstr r12, [sp, #-16]\nmov r0, #0\nmov r1, #0\nbx lr"
        default: "li $t0, \(marker)\nsw $t0, -16($sp)\nmove $v0, $zero\njr $ra\nmove $v1, $zero"
        }
    }

    /// Returns the word 16 bytes below the entry stack pointer.
    static func readMarker(_ a: EmulatedArchitecture) -> String {
        switch a.name {
        case "arm64": "ldr x0, [sp, #-16]\nret"
        case "riscv64": "ld a0, -16(sp)\nret"
        case "arm32": "ldr r0, [sp, #-16]\nmov r1, #0\nbx lr"
        default:
            "lw \(TestPrograms.mips(a)!.result.lo), -16($sp)\njr $ra\nmove \(TestPrograms.mips(a)!.result.hi), $zero"
        }
    }

    @Test(arguments: EmulatedArchitecture.all)
    func aProgramStartsOnAStackNoOtherProgramWrote(_ architecture: EmulatedArchitecture) throws {
        // One machine, one engine (runs one after another): both programs run on the same stack pages.
        let machine = try Harness.machine(architecture)
        let writer = try Harness.program(Self.leaveMarker(architecture), on: machine)
        let reader = try Harness.program(Self.readMarker(architecture), on: machine)
        #expect(try writer.run().value == 0)
        #expect(try reader.run().value == 0, "the reader sees the writer's stack")
        // Runs of one program may see their own leftovers (as natively); another's never.
        #expect(try writer.run().value == 0)
        #expect(try writer.run().value == 0)
        #expect(try reader.run().value == 0, "the reader sees the writer's stack")
    }

    /// An engine that has mapped its lifetime's code is closed and a fresh
    /// one takes its place: each new image, at a reused address or not, runs
    /// its own code, and a program loaded before the retirements still runs.
    @Test(arguments: [(EmulatedArchitecture.riscv64, EmulatedMachine.EngineLifetime(images: 8, imageBytes: 1 << 30)),
                      (.arm32, EmulatedMachine.EngineLifetime(images: 1 << 20, imageBytes: 3 * 4_096))])
    func anEngineThatMappedItsLifetimesCodeIsReplaced(_ architecture: EmulatedArchitecture,
                                                       _ lifetime: EmulatedMachine.EngineLifetime) throws {
        let machine = try EmulatedMachine(architecture: architecture,
                                          configuration: EmulatedMachine.Configuration(engineLifetime: lifetime))
        let keeper = try Harness.program(TestPrograms.constant(0xC3, architecture), on: machine)
        #expect(try keeper.run().value == 0xC3)
        let images = try [0xA1, 0xB2].map { try TargetAssembler.assemble(TestPrograms.constant($0, architecture), for: architecture) }
        let count = 40
        for k in 0..<count {
            let reservation = try machine.reserveImage(size: images[k % 2].count, placement: .nearHelpers)
            let program = try machine.load(image: images[k % 2], in: reservation, pcMap: nil, instructionLimit: 1_000)
            let value = try program.run().value
            #expect(value == (k % 2 == 0 ? 0xA1 : 0xB2), "image \(k) ran other code")
            if k % 5 == 0 { #expect(try keeper.run().value == 0xC3, "the first program, after \(k) images") }
        }
        // 41 images and the keeper's mappings into each fresh engine: one
        // engine per 8 mappings (riscv64) or per 3 pages (arm32), at least.
        let least = lifetime.images == 8 ? 41 / 8 : 41 / 3
        #expect(machine.retiredEngineCount >= least, "\(machine.retiredEngineCount) engines retired")
        #expect(try keeper.run().value == 0xC3)
    }

    @Test(arguments: EmulatedArchitecture.all)
    func aRecycledMachineRunsTheNewCodeAndHelpersAtTheOldAddress(_ architecture: EmulatedArchitecture) throws {
        func returning(_ value: UInt64) -> Helper {
            Helper(id: 1, name: "test_value", prototype: HelperPrototype([], returns: .scalar(bits: 64))) { _ throws(HelperError) in value }
        }
        let machine = try Harness.machine(architecture, helpers: [returning(111)])
        let helper = try machine.helperAddress(for: 1)
        let call = TestPrograms.call(helper, addWordAtArg2: false, architecture)
        var first: EmulatedProgram? = try Harness.program(call, on: machine)
        let address = try #require(first?.address)
        #expect(try first?.run().value == 111)
        #expect(throws: EmulatorError.self, "a machine with a program loaded is not recycled") {
            try machine.recycle(helpers: HelperRegistry([returning(222)]))
        }
        first = nil

        try machine.recycle(helpers: HelperRegistry([returning(222)]))
        // The same first-fit address: the engine translated code there for the old image.
        let constant = try Harness.program(TestPrograms.constant(0xC0DE, architecture), on: machine)
        #expect(constant.address == address)
        #expect(try constant.run().value == 0xC0DE, "code translated from the old image ran")
        let again = try Harness.program(call, on: machine)
        #expect(try again.run().value == 222, "the old tenant's helper answered")
    }

    @Test(arguments: [EmulatedArchitecture.arm64, .arm32])
    func theJITsMachinesAreRecycledOnlyWhenNothingUsesThem(_ architecture: EmulatedArchitecture) throws {
        let helpers = HelperRegistry([Helper(id: 1, name: "test_value", prototype: HelperPrototype([], returns: .scalar(bits: 64))) {
            _ throws(HelperError) in 7
        }])
        let configuration = EngineConfiguration(helpers: helpers)
        var held: EmulatedMachine? = try EmulatedJITMachines.machine(architecture, for: configuration, variant: 77)
        let first = ObjectIdentifier(try #require(held))
        // In use: the next program gets another machine.
        let second = try EmulatedJITMachines.machine(architecture, for: configuration, variant: 77)
        #expect(ObjectIdentifier(second) != first)
        held = nil
        // The first is free now: it is recycled, not a third made.
        try withExtendedLifetime(second) {
            let third = try EmulatedJITMachines.machine(architecture, for: configuration, variant: 77)
            #expect(ObjectIdentifier(third) == first)
            #expect(third.helpers[1] != nil)
        }
    }
}
