import BPFELF
import BPFInterpreter
import BPFKit
import BPFLoader
import Foundation
import Testing

/// CO-RE relocations: programs compiled against local flavors of types
/// (`struct foo___v2`) relocated against a target BTF whose layout differs
/// (core_target.c), against the object's own types, and against the
/// running kernel's (compared with what libbpf and the kernel make of the
/// same object).
@Suite(.enabled(if: Clang.available, "clang or BPF headers missing"))
struct CORETests {
    static func fields() throws -> [UInt8] { try Clang.object(testProgramsDirectory.appendingPathComponent("core_fields.c")) }
    static func target() throws -> TargetBTF {
        try TargetBTF(bytes: Clang.object(testProgramsDirectory.appendingPathComponent("core_target.c")), origin: "core_target.o")
    }

    /// 64 bytes of a `struct foo` (either layout), then room for the 14 results.
    static let packet: [UInt8] = (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) } + [UInt8](repeating: 0, count: 56)

    static func results(_ output: [UInt8]) -> [UInt32] { (0..<14).map { output.le32(at: 64 + 4 * $0) } }

    static func signExtend(_ value: UInt32, bits: Int) -> UInt32 {
        UInt32(bitPattern: Int32(bitPattern: value << (32 - bits)) >> (32 - bits))
    }

    /// The results computed by hand from core_target.c's layout.
    static var expectedAgainstTarget: [UInt32] {
        let p = packet
        return [
            p.le32(at: 28),                                    // a at 28
            UInt32(truncatingIfNeeded: p.le64(at: 16)),        // b: 8 bytes at 16, loaded whole
            16, 8,                                             // offset and size of b
            0,                                                 // d does not exist
            signExtend(UInt32(p[24] >> 3) & 0x1f, bits: 5),    // mode: signed, bits 3-7 of offset 24
            40,                                                // sizeof(struct foo)
            1, 0,                                              // only_in_target exists, nowhere does not
            21, 0,                                             // GREEN is 21, BLUE is missing
            UInt32(bitPattern: Int32(Int8(bitPattern: p[36]))), // name[4] at 36, char sign-extended
            UInt32(p[24] & 7),                                 // flags: bits 0-2
            0xdead,                                            // d guarded by bpf_core_field_exists
        ]
    }

    /// The results by the local layout, which the object's own types give.
    static var expectedAgainstOwnTypes: [UInt32] {
        let p = packet
        return [
            p.le32(at: 0), p.le32(at: 4), 4, 4, 1,
            signExtend((p.le32(at: 8) >> 4) & 0x1f, bits: 5),
            24, 1, 1, 2, 1,
            UInt32(bitPattern: Int32(Int8(bitPattern: p[20]))),
            UInt32(p[8] & 0xf),
            p.le32(at: 12),
        ]
    }

    @Test func relocatedAgainstATargetBTF() throws {
        let object = try LoadedObject(bytes: Self.fields(), options: LoadOptions(trace: { _ in }).with(coreTarget: .btf(Self.target())))
        let program = try object.program(named: "core_fields")
        #expect(object.object.program(named: "core_fields")?.poisoned.count == 1, "f->d in the guarded branch is poisoned")
        for engine in engines {
            let (value, output) = try run(program, on: engine, input: Self.packet)
            #expect(value == 3, "XDP_TX on \(engine.name)")
            #expect(Self.results(output) == Self.expectedAgainstTarget, "on \(engine.name)")
        }
    }

    @Test func objectsOwnTypesGiveTheLocalLayout() throws {
        let object = try LoadedObject(bytes: Self.fields(), options: LoadOptions(trace: { _ in }))
        let program = try object.program(named: "core_fields")
        #expect(object.object.program(named: "core_fields")?.poisoned.isEmpty == true)
        for engine in engines {
            let (_, output) = try run(program, on: engine, input: Self.packet)
            #expect(Self.results(output) == Self.expectedAgainstOwnTypes, "on \(engine.name)")
        }
    }

    /// A missing field read without a guard: the verifier reaches the
    /// poisoned instruction and refuses the program, naming it and the relocation.
    @Test func unguardedMissingFieldIsRefused() throws {
        let object = try LoadedObject(bytes: Self.fields(), options: LoadOptions(trace: { _ in }).with(coreTarget: .btf(Self.target())))
        for name in ["core_unguarded", "core_enum_unguarded"] {
            let poisoned = try #require(object.object.program(named: name)?.poisoned.first)
            do {
                _ = try object.program(named: name)
                Issue.record("\(name) loaded")
            } catch {
                let message = "\(error)"
                #expect(message.contains("instruction \(poisoned.key)"), "\(message)")
                #expect(message.contains(name == "core_unguarded" ? "of struct foo___v2.d" : "of enum color___v2::BLUE"), "\(message)")
                #expect(message.contains("could not be resolved"), "\(message)")
            }
        }
        // Resolved against the object's own types, the same programs load.
        let own = try LoadedObject(bytes: Self.fields(), options: LoadOptions(trace: { _ in }))
        #expect(try run(own.program(named: "core_enum_unguarded"), on: Interpreter(), input: Self.packet).0 == 1)
    }

    /// Unverified, the poisoned instruction stops the run when reached, naming it.
    @Test func reachingAPoisonedInstructionUnverifiedStopsTheRun() throws {
        var options = LoadOptions(trace: { _ in }, verifierLimits: nil).with(coreTarget: .btf(try Self.target()))
        options.policy = .privileged
        let object = try LoadedObject(bytes: Self.fields(), options: options)
        let program = try object.program(named: "core_unguarded")
        let pc = try #require(object.object.program(named: "core_unguarded")?.poisoned.keys.first)
        #expect(program.program.instructions[pc] == .call(.helper(PoisonedInstruction.helperID)))
        for engine in engines {
            do {
                _ = try run(program, on: engine, input: Self.packet)
                Issue.record("ran to the end on \(engine.name)")
            } catch {
                let message = "\(error)"
                #expect(message.contains("\(pc)") && message.contains("struct foo___v2.d"), "\(engine.name): \(message)")
            }
        }
    }

    /// Flavor suffixes are cut at the last `X___Y` (libbpf's rule).
    @Test func essentialNames() {
        #expect(CORETarget.essentialName("foo___v2") == "foo")
        #expect(CORETarget.essentialName("foo___v2___v3") == "foo___v2")
        #expect(CORETarget.essentialName("foo") == "foo")
        #expect(CORETarget.essentialName("foo____") == "foo____")
        #expect(CORETarget.essentialName("___x") == "___x")
        #expect(CORETarget.essentialName("a___b") == "a")
    }

    /// Every byte of the CO-RE records corrupted in turn: the object loads or
    /// fails with an error, never a crash or hang.
    @Test func corruptedRecordsAreErrors() throws {
        let bytes = try Self.fields()
        let target = try Self.target()
        // .BTF.ext is the second BTF header (magic 9f eb, version 1) in the file.
        let headers = (0..<bytes.count - 8).filter { bytes[$0] == 0x9f && bytes[$0 + 1] == 0xeb && bytes[$0 + 2] == 1 && bytes[$0 + 3] == 0 }
        let ext = try #require(headers.count >= 2 ? headers[1] : nil)
        let header = Int(bytes.le32(at: ext + 4))
        let start = ext + header + Int(bytes.le32(at: ext + 24)), length = Int(bytes.le32(at: ext + 28))
        #expect(length > 16)
        var failures = 0, loads = 0
        for at in start..<start + length {
            for value: UInt8 in [0x00, 0xff, bytes[at] ^ 0x01] {
                var corrupted = bytes
                corrupted[at] = value
                for coreTarget in [CORETarget.btf(target), .objectTypes] {
                    do {
                        _ = try ObjectFile(bytes: corrupted, coreTarget: coreTarget)
                        loads += 1
                    } catch {
                        failures += 1
                        #expect(!"\(error)".isEmpty)
                    }
                }
            }
        }
        print("corrupted CO-RE records: \(loads) loaded, \(failures) refused")
        #expect(failures > 0)
    }

    /// A malformed target file is an error naming it.
    @Test func badTargetFile() {
        #expect(throws: ELFError.self) { try TargetBTF(bytes: [1, 2, 3, 4], origin: "junk") }
    }
}

/// The same CO-RE object in the kernel (libbpf relocates it against
/// /sys/kernel/btf/vmlinux when bpftool loads it) and in BPFKit against the
/// same BTF: the values it writes must agree byte for byte.
@Suite(.enabled(if: Clang.available && KernelObject.availability.available
                    && FileManager.default.fileExists(atPath: CORETarget.kernelBTFPath),
                "CO-RE kernel differential skipped: \(Clang.available ? KernelObject.availability.reason : "clang or BPF headers missing") (or no \(CORETarget.kernelBTFPath))"),
       .serialized)
struct COREKernelDifferentialTests {
    @Test func sameValuesAsLibbpfAndTheKernel() throws {
        let path = try Clang.compile(testProgramsDirectory.appendingPathComponent("core_kernel.c"))
        let kernel = try KernelObject(path: path)
        defer { kernel.close() }
        let packet = [UInt8](repeating: 0xaa, count: 96)
        let (kernelValue, kernelOutput) = try kernel.run("core_kernel", input: packet)
        #expect(kernelValue == 3)

        let vmlinux = try TargetBTF(bytes: [UInt8](Data(contentsOf: URL(fileURLWithPath: CORETarget.kernelBTFPath))),
                                    origin: CORETarget.kernelBTFPath)
        let object = try LoadedObject(bytes: [UInt8](Data(contentsOf: path)),
                                      options: LoadOptions(trace: { _ in }).with(coreTarget: .btf(vmlinux)))
        let program = try object.program(named: "core_kernel")
        let values = (0..<20).map { kernelOutput.le32(at: 4 * $0) }
        print("CO-RE against vmlinux (\(vmlinux.typeCount) types): \(values)")
        #expect(values[8] == 0 && values[9] == 1 && values[12] == 0 && values[15] == 0 && values[16] == 1 && values[17] == 0
                && values[19] == 0xfeed, "the kernel's answers are the expected existence and match results")
        for engine in engines {
            let (value, output) = try run(program, on: engine, input: packet)
            #expect(value == kernelValue, "on \(engine.name)")
            #expect((0..<20).map { output.le32(at: 4 * $0) } == values, "on \(engine.name)")
            #expect(output == kernelOutput, "on \(engine.name)")
        }
    }
}

extension LoadOptions {
    func with(coreTarget: CORETarget) -> LoadOptions {
        var options = self
        options.coreTarget = coreTarget
        return options
    }
}
