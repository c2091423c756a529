import BPFBackendTestKit
import BPFEmulator
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITRISCV64
import BPFNativeDisassembler
import BPFRuntime
import Testing

/// Branches past the B-type range (±4 KiB) become the inverted branch over
/// `jal zero`, and calls out of the image take the form their distance
/// allows, each site on its own: `jal ra` (±1 MiB), `auipc t6` + `jalr ra`
/// (±2 GiB), else the address built in t6.
@Suite struct RangeTests {
    /// r0 counts the `add`s run; the conditional jumps skip about 8 KiB of code.
    static func longJumps(_ count: Int) -> Program {
        var code: [Instruction] = [.alu(.w64, .mov, dst: .r0, .immediate(0)),
                                   .alu(.w64, .mov, dst: .r3, .immediate(3)),
                                   .branch(.w64, .ne, dst: .r1, .immediate(0), offset: Int16(count))]
        code += Array(repeating: .alu(.w64, .add, dst: .r0, .immediate(1)), count: count)
        // A backward loop over a long body: three turns.
        code += [.alu(.w64, .add, dst: .r0, .immediate(1000))]
        code += Array(repeating: .alu(.w64, .xor, dst: .r0, .immediate(0x55)), count: count)
        code += [.alu(.w64, .sub, dst: .r3, .immediate(1)),
                 .branch(.w32, .sgt, dst: .r3, .immediate(0), offset: Int16(-(count + 3))),
                 .exit]
        return Program(code)
    }

    @Test(arguments: [false, true]) func longBranchesMatchTheInterpreter(compressed: Bool) throws {
        let program = Self.longJumps(2_500)
        let engine = RV64JIT(options: RV64Options(compressed: compressed))
        let image = try RV64JIT.listingImage(program, configuration: EngineConfiguration(instructionLimit: 100_000),
                                             options: RV64Options(compressed: compressed))
        #expect(image.size > 8_192)
        let got = BackendMatrix.outcome(program, memory: [1, 2, 3], on: engine)
        let reference = BackendMatrix.outcome(program, memory: [1, 2, 3], on: Interpreter())
        #expect(got == reference && got != .notPrepared(""), "jit \(got), interpreter \(reference)")
        // The skip is the inverted branch (beq) over a jal.
        let listing = try JITListing(image: image, program: program)
        let branch = try #require(listing.sections.first { $0.pc == 2 })
        #expect(branch.instructions.map { $0.text.split(separator: " ")[0] } == ["beq", "jal"], "\(branch.instructions.map(\.text))")
    }

    static let helper = Helper(id: 5, name: "five", prototype: HelperPrototype([], returns: .scalar(bits: 64))) { _ in 5 }

    /// The call site of a `call 5` assembled at `address` with the helper at `target`.
    static func callSite(at address: UInt, target: UInt64) throws -> [String] {
        let program = Program([.call(.helper(5)), .exit])
        let configuration = EngineConfiguration(helpers: HelperRegistry([helper]))
        let image = try RV64JIT.assemble(program, configuration: configuration, at: address,
                                         targets: RV64CallTargets(helpers: [5: target], checkAccess: 0x1000))
        let listing = try JITListing(image: image, program: program)
        return try #require(listing.sections.first { $0.pc == 0 }).instructions.map(\.text)
    }

    @Test func eachCallTakesTheFormItsDistanceAllows() throws {
        let base: UInt = 0x4000_0000_0000
        let near = try Self.callSite(at: base, target: UInt64(base) + 0x8_0000)
        #expect(near.contains { $0.hasPrefix("jal ra, ") }, "\(near)")
        // ±2 GiB: auipc t6, hi; jalr ra, lo(t6), adding up to the target.
        let target = UInt64(base) + 0x4000_0124
        let middle = try Self.callSite(at: base, target: target)
        let auipc = try #require(middle.firstIndex { $0.hasPrefix("auipc t6, ") }, "\(middle)")
        #expect(middle[auipc + 1].hasPrefix("jalr ra, "), "\(middle)")
        let hi = Int64(middle[auipc].split(separator: " ").last!)!
        let lo = Int64(middle[auipc + 1].split(separator: " ").last!.split(separator: "(").first!)!
        let program = Program([.call(.helper(5)), .exit])
        let image = try RV64JIT.assemble(program, configuration: EngineConfiguration(helpers: HelperRegistry([Self.helper])), at: base,
                                         targets: RV64CallTargets(helpers: [5: target], checkAccess: 0x1000))
        let listing = try JITListing(image: image, program: program)
        let site = try #require(listing.sections.first { $0.pc == 0 }).instructions[auipc]
        let signedHi = (hi << 44) >> 44
        #expect(UInt64(base) + UInt64(site.offset) &+ UInt64(bitPattern: signedHi << 12 + lo) == target)
        // Beyond ±2 GiB: the address in t6.
        let far = try Self.callSite(at: base, target: UInt64(base) + 0x1_0000_0000)
        #expect(!far.contains { $0.hasPrefix("auipc") } && far.contains { $0.hasPrefix("jalr ra, 0(t6)") }, "\(far)")
    }

    /// Each placement on the emulated machine gives its helper calls the
    /// form the distance allows, and every form runs: next to the helpers
    /// `jal ra`, 16 to 24 MiB away `auipc t6` + `jalr ra`, 4 GiB and more
    /// away the address built in t6.
    @Test(arguments: [BPFEmulator.ImagePlacement.nearHelpers, .beyondShortCalls, .farFromHelpers])
    func eachPlacementRunsItsCallForm(placement: BPFEmulator.ImagePlacement) throws {
        // r6 = five() + 1; r0 = five() * r6 = 30.
        let program = Program([.call(.helper(5)), .alu(.w64, .mov, dst: .r6, .register(.r0)), .alu(.w64, .add, dst: .r6, .immediate(1)),
                               .call(.helper(5)), .alu(.w64, .mul, dst: .r0, .register(.r6)), .exit])
        let configuration = EngineConfiguration(helpers: HelperRegistry([Self.helper]))
        for compressed in [false, true] {
            let prepared = try RV64JIT(options: RV64Options(compressed: compressed), placement: placement)
                .emulate(program, configuration: configuration)
            let distance = Int64(bitPattern: UInt64(prepared.image.address) &- prepared.machine.trampolineArea.lowerBound).magnitude
            let texts = try JITListing(image: prepared.image, program: program).sections.filter { $0.pc == 0 || $0.pc == 3 }
                .flatMap { $0.instructions.map(\.text) }
            switch placement {
            case .nearHelpers:
                #expect(distance < 1 << 20)
                #expect(texts.filter { $0.hasPrefix("jal ra, ") }.count == 2, "\(texts)")
            case .beyondShortCalls:
                #expect(distance > 1 << 20 && distance < 1 << 31, "0x\(String(distance, radix: 16))")
                #expect(texts.filter { $0.hasPrefix("auipc t6, ") }.count == 2, "\(texts)")
                #expect(texts.filter { $0.hasPrefix("jalr ra, ") || $0 == "c.jalr t6" }.count == 2, "\(texts)")
            case .farFromHelpers:
                #expect(distance >= 1 << 32)
                #expect(!texts.contains { $0.hasPrefix("auipc") || $0.hasPrefix("jal ra") }, "\(texts)")
            }
            #expect(try prepared.run(RunInput(r1: 0, r2: 0, regions: MemoryRegions())) == 30)
        }
    }
}
