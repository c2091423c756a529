import BPFEmulator
import Testing

/// The architecture table against LLVM and against itself.
@Suite struct ArchitectureTableTests {
    @Test(.enabled(if: TargetAssembler.isAvailable, TargetAssembler.missingMessage),
          arguments: EmulatedArchitecture.all)
    func trapBytesAreLLVMsEncoding(_ architecture: EmulatedArchitecture) throws {
        let instruction = switch architecture.name {
        case "arm64": "brk #0"
        case "arm32": "udf #0"
        case "riscv64": "ebreak"
        default: "break"
        }
        #expect(try TargetAssembler.encoding(of: instruction, for: architecture) == architecture.trap)
    }

    @Test(arguments: EmulatedArchitecture.all)
    func everyTargetBuildsAMachine(_ architecture: EmulatedArchitecture) throws {
        let machine = try EmulatedMachine(architecture: architecture)
        #expect(machine.addressModel == (architecture.wordSize == 8 ? .identity : .translated))
        #expect(EmulatedArchitecture.named(architecture.name) == architecture)
        // 32-bit guests keep everything below MIPS kseg0.
        if architecture.wordSize == 4 { #expect(machine.trampolineArea.upperBound <= 0x8000_0000) }
    }

    @Test func conventionsMatchTheABIs() {
        // Pairs are low:high; MIPS big endian keeps the high word in the first register of a pair.
        #expect(EmulatedArchitecture.mips32le.result == .registerPair(low: reg(.mips32le, "v0"), high: reg(.mips32le, "v1")))
        #expect(EmulatedArchitecture.mips32be.result == .registerPair(low: reg(.mips32be, "v1"), high: reg(.mips32be, "v0")))
        #expect(EmulatedArchitecture.mips32be.arguments[0] == .registerPair(low: reg(.mips32be, "a1"), high: reg(.mips32be, "a0")))
        #expect(EmulatedArchitecture.arm32.arguments[2] == .stack(offset: 0))
        #expect(EmulatedArchitecture.mips32le.arguments[2] == .stack(offset: 16), "after O32's home area")
        #expect(EmulatedArchitecture.arm64.linkRegister.name == "x30")
        #expect(EmulatedArchitecture.mips32le.returnAddressOffset == 8, "calls skip the delay slot")
        for architecture in EmulatedArchitecture.all {
            // Nothing both preserved and clobbered, and the result never preserved.
            #expect(Set(architecture.callerSaved).isDisjoint(with: architecture.calleeSaved), "\(architecture)")
            #expect(!architecture.calleeSaved.contains(architecture.stackPointer))
        }
    }

    @Test func inconsistentDescriptionsAreRejected() {
        var fourArguments = EmulatedArchitecture.arm64
        fourArguments.arguments.removeLast()
        #expect(throws: EmulatorError.self) { try EmulatedMachine(architecture: fourArguments) }
        var pairOn64 = EmulatedArchitecture.riscv64
        pairOn64.result = .registerPair(low: pairOn64.arguments.first.flatMap(register) ?? pairOn64.stackPointer,
                                        high: pairOn64.stackPointer)
        #expect(throws: EmulatorError.self) { try EmulatedMachine(architecture: pairOn64) }
        var wideTrap = EmulatedArchitecture.arm32
        wideTrap.trap = [UInt8](repeating: 0, count: 12)
        #expect(throws: EmulatorError.self) { try EmulatedMachine(architecture: wideTrap) }
    }

    private func reg(_ architecture: EmulatedArchitecture, _ name: String) -> EmulatedRegister {
        (architecture.callerSaved + architecture.calleeSaved).first { $0.name == name }!
    }

    private func register(_ location: ArgumentLocation) -> EmulatedRegister? {
        if case .register(let register) = location { register } else { nil }
    }
}
