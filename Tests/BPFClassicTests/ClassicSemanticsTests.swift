import BPFClassic
import BPFKit
import BPFPcap
import Foundation
import Testing

/// The translation's semantics on hand-written classic programs, on the
/// interpreter and the x86-64 JIT, against values worked out from the
/// kernel's rules (net/core/filter.c) and, where libpcap shares them, its
/// interpreter.
@Suite struct ClassicSemanticsTests {
    typealias I = ClassicInstruction
    static func op(_ code: UInt16, _ k: UInt32 = 0, jt: UInt8 = 0, jf: UInt8 = 0) -> I { I(code: code, jt: jt, jf: jf, k: k) }
    static let retA = op(I.ret | I.retA)
    static func retK(_ k: UInt32) -> I { op(I.ret | I.retK, k) }
    static let anc = AncillaryField.base

    static let packet: [UInt8] = (0..<64).map { UInt8($0 * 3 & 0xff) }

    static func run(_ instructions: [I], packet: [UInt8] = packet, metadata: PacketMetadata? = nil) throws -> [UInt32] {
        let program = try ClassicProgram(instructions)
        return try [EngineKind.interpreter, .jit].map { kind in
            let filter = try ClassicFilter(program, engine: try EngineCatalog.engine(kind))
            return try filter.run(packet, metadata: metadata ?? PacketMetadata(wireLength: UInt32(packet.count)))
        }
    }

    /// Big-endian value of `count` packet bytes at `offset`.
    static func be(_ offset: Int, _ count: Int) -> UInt32 {
        packet[offset..<offset + count].reduce(0) { $0 << 8 | UInt32($1) }
    }

    @Test func packetLoadsAreBigEndianAndBoundsChecked() throws {
        for (size, bytes) in [(I.w, 4), (I.h, 2), (I.b, 1)] {
            // The last load that fits, and the first that does not (returns 0, not A).
            let last = 64 - bytes
            #expect(try Self.run([Self.op(I.ld | size | I.abs, UInt32(last)), Self.retA]) == [Self.be(last, bytes), Self.be(last, bytes)])
            #expect(try Self.run([Self.op(I.ld | I.imm, 7), Self.op(I.ld | size | I.abs, UInt32(last + 1)), Self.retA]) == [0, 0])
            // Indirect: X + k, checked the same way; a negative sum is out of bounds.
            #expect(try Self.run([Self.op(I.ldx | I.imm, 10), Self.op(I.ld | size | I.ind, UInt32(last - 10)), Self.retA])
                    == [Self.be(last, bytes), Self.be(last, bytes)])
            #expect(try Self.run([Self.op(I.ldx | I.imm, 10), Self.op(I.ld | size | I.ind, UInt32(last - 9)), Self.retK(9)]) == [0, 0])
            #expect(try Self.run([Self.op(I.ldx | I.imm, 0xffff_fff0), Self.op(I.ld | size | I.ind, 0x20), Self.retA])
                    == [Self.be(0x10, bytes), Self.be(0x10, bytes)])
            #expect(try Self.run([Self.op(I.ldx | I.imm, 0xffff_fff0), Self.op(I.ld | size | I.ind, 4), Self.retK(9)]) == [0, 0])
        }
        // Huge constant offsets, and loads from an empty packet.
        #expect(try Self.run([Self.op(I.ld | I.b | I.abs, 0x7fff_ffff), Self.retK(1)]) == [0, 0])
        #expect(try Self.run([Self.op(I.ld | I.b | I.abs, 0), Self.retK(1)], packet: []) == [0, 0])
        // Link-layer-relative loads read from the start of the packet.
        #expect(try Self.run([Self.op(I.ld | I.h | I.abs, AncillaryField.linkLayerOffset + 2), Self.retA]) == [Self.be(2, 2), Self.be(2, 2)])
    }

    @Test func mshLoadsTheHeaderLength() throws {
        // X = 4 * (P[14] & 0xf): byte 14 is 42 = 0x2a, so X = 40.
        #expect(try Self.run([Self.op(I.ldx | I.b | I.msh, 14), Self.op(I.misc | I.txa), Self.retA]) == [40, 40])
        #expect(try Self.run([Self.op(I.ldx | I.b | I.msh, 64), Self.retK(5)]) == [0, 0])
    }

    @Test func arithmeticIs32BitAndDivisionByZeroReturnsZero() throws {
        let cases: [(UInt16, UInt32, UInt32, UInt32)] = [  // op, A, operand, result
            (I.add, 0xffff_ffff, 2, 1), (I.sub, 1, 2, 0xffff_ffff), (I.mul, 0x1000_0000, 0x20, 0), (I.div, 100, 7, 14),
            (I.mod, 100, 7, 2), (I.or, 0xf0, 0x0f, 0xff), (I.and, 0xf0, 0x3c, 0x30), (I.xor, 0xff, 0x0f, 0xf0),
            (I.lsh, 1, 31, 0x8000_0000), (I.rsh, 0x8000_0000, 31, 1),
        ]
        for (operation, a, operand, expected) in cases {
            let withK = [Self.op(I.ld | I.imm, a), Self.op(I.alu | operation | I.srcK, operand), Self.retA]
            let withX = [Self.op(I.ld | I.imm, a), Self.op(I.ldx | I.imm, operand), Self.op(I.alu | operation | I.srcX), Self.retA]
            #expect(try Self.run(withK) == [expected, expected], "op 0x\(String(operation, radix: 16))")
            #expect(try Self.run(withX) == [expected, expected], "op 0x\(String(operation, radix: 16)) x")
        }
        #expect(try Self.run([Self.op(I.ld | I.imm, 5), Self.op(I.alu | I.neg), Self.retA]) == [0xffff_fffb, 0xffff_fffb])
        for operation in [I.div, I.mod] {
            #expect(try Self.run([Self.op(I.ld | I.imm, 100), Self.op(I.alu | operation | I.srcX), Self.retK(77)]) == [0, 0])
        }
        // Shifts by X take X modulo 32, as the kernel's eBPF shifts.
        #expect(try Self.run([Self.op(I.ld | I.imm, 1), Self.op(I.ldx | I.imm, 33), Self.op(I.alu | I.lsh | I.srcX), Self.retA]) == [2, 2])
    }

    @Test func jumpsCompareUnsigned32Bit() throws {
        func branch(_ operation: UInt16, a: UInt32, k: UInt32) throws -> [UInt32] {
            try Self.run([Self.op(I.ld | I.imm, a), Self.op(I.jmp | operation | I.srcK, k, jt: 1, jf: 0), Self.retK(2), Self.retK(1)])
        }
        #expect(try branch(I.jgt, a: 0x8000_0000, k: 1) == [1, 1])
        #expect(try branch(I.jgt, a: 1, k: 0x8000_0000) == [2, 2])
        #expect(try branch(I.jge, a: 0xffff_ffff, k: 0xffff_ffff) == [1, 1])
        #expect(try branch(I.jeq, a: 0xffff_fffe, k: 0xffff_ffff) == [2, 2])
        #expect(try branch(I.jset, a: 0x8000_0000, k: 0x8000_0001) == [1, 1])
        #expect(try branch(I.jset, a: 0x4, k: 0x3) == [2, 2])
        // With X, and ja over instructions.
        #expect(try Self.run([Self.op(I.ld | I.imm, 9), Self.op(I.ldx | I.imm, 9), Self.op(I.jmp | I.jeq | I.srcX, jt: 1),
                              Self.retK(2), Self.op(I.jmp | I.ja, 1), Self.retK(3), Self.retK(4)]) == [4, 4])
    }

    @Test func scratchMemoryAndRegisters() throws {
        var program: [I] = []
        for word in 0..<16 { program += [Self.op(I.ld | I.imm, UInt32(word * 11)), Self.op(I.st, UInt32(word))] }
        program += [Self.op(I.ldx | I.w | I.mem, 15), Self.op(I.ld | I.mem, 3), Self.op(I.alu | I.add | I.srcX),
                    Self.op(I.misc | I.tax), Self.op(I.stx, 0), Self.op(I.ld | I.mem, 0), Self.retA]
        #expect(try Self.run(program) == [198, 198])
        // A and X start at zero.
        #expect(try Self.run([Self.op(I.misc | I.txa), Self.op(I.alu | I.add | I.srcK, 5), Self.retA]) == [5, 5])
        // ld #pktlen is the wire length, which may exceed the captured bytes.
        #expect(try Self.run([Self.op(I.ld | I.len), Self.retA], metadata: PacketMetadata(wireLength: 1500)) == [1500, 1500])
        #expect(try Self.run([Self.op(I.ldx | I.len), Self.op(I.misc | I.txa), Self.retA], metadata: PacketMetadata(wireLength: 99)) == [99, 99])
    }

    @Test func ancillaryLoads() throws {
        let metadata = PacketMetadata(wireLength: 64, protocolNumber: 0x86dd, packetType: 2, interfaceIndex: 7, vlanTag: 0x2064,
                                      vlanProtocol: 0x88a8)
        func load(_ field: AncillaryField, size: UInt16 = I.w) throws -> [UInt32] {
            try Self.run([Self.op(I.ld | size | I.abs, Self.anc + field.rawValue), Self.retA], metadata: metadata)
        }
        #expect(try load(.protocolNumber) == [0x86dd, 0x86dd])
        #expect(try load(.protocolNumber, size: I.h) == [0x86dd, 0x86dd])
        #expect(try load(.packetType) == [2, 2])
        #expect(try load(.interfaceIndex) == [7, 7])
        #expect(try load(.vlanTag) == [0x2064, 0x2064])
        #expect(try load(.vlanTagPresent) == [1, 1])
        #expect(try load(.vlanProtocol) == [0x88a8, 0x88a8])
        #expect(try Self.run([Self.op(I.ld | I.abs, Self.anc + AncillaryField.vlanTagPresent.rawValue), Self.retA]) == [0, 0])
        #expect(try Self.run([Self.op(I.ld | I.imm, 0xff00), Self.op(I.ldx | I.imm, 0x0ff0),
                              Self.op(I.ld | I.abs, Self.anc + AncillaryField.aluXorX.rawValue), Self.retA]) == [0xf0f0, 0xf0f0])
        // The CPU is a small number; random values vary; X and M[] survive the helper calls.
        let cpu = try Self.run([Self.op(I.ldx | I.imm, 3), Self.op(I.ld | I.imm, 4), Self.op(I.st, 1),
                                Self.op(I.ld | I.abs, Self.anc + AncillaryField.cpu.rawValue),
                                Self.op(I.ld | I.mem, 1), Self.op(I.alu | I.add | I.srcX), Self.retA])
        #expect(cpu == [7, 7])
        var randoms = Set<UInt32>()
        for _ in 0..<8 { randoms.formUnion(try load(.random)) }
        #expect(randoms.count > 4)
        // From an Ethernet frame: the protocol and packet type the kernel derives.
        let broadcast = [UInt8](repeating: 0xff, count: 6) + [UInt8](repeating: 2, count: 6) + [0x08, 0x06] + [UInt8](repeating: 0, count: 28)
        let derived = PacketMetadata.ethernet(broadcast, wireLength: 42)
        #expect(derived.protocolNumber == 0x806 && derived.packetType == 1)
        // Loads that need kernel state are refused, naming the instruction.
        for field in [AncillaryField.mark, .queue, .hardwareType, .receiveHash, .netlinkAttribute, .netlinkAttributeNest, .payloadOffset] {
            let program = try ClassicProgram([Self.op(I.ld | I.imm, 1), Self.op(I.ld | I.abs, Self.anc + field.rawValue), Self.retA])
            #expect(throws: ClassicError.self) { try ClassicTranslator.translate(program) }
            do { _ = try ClassicTranslator.translate(program) } catch {
                #expect(error.description.hasPrefix("cBPF instruction 1: ancillary load \(field.kernelName)"))
            }
        }
        #expect(throws: ClassicError(.instruction(0), "unknown ancillary load at offset SKF_AD_OFF + 64")) {
            try ClassicProgram([Self.op(I.ld | I.abs, Self.anc + 64), Self.retA])
        }
    }

    @Test func invalidProgramsNameTheInstruction() throws {
        func refusal(_ instructions: [I]) -> String? {
            do { _ = try ClassicProgram(instructions); return nil } catch { return error.description }
        }
        #expect(refusal([Self.op(I.jmp | I.ja, 1), Self.retK(0)]) == "cBPF instruction 0: jump to 2 is past the last instruction (1)")
        #expect(refusal([Self.op(I.jmp | I.jeq, 0, jt: 0, jf: 1), Self.retK(0)])
                == "cBPF instruction 0: jump if false to 2 is past the last instruction (1)")
        #expect(refusal([Self.op(I.ld | I.imm, 1), Self.op(0x1f), Self.retK(0)]) == "cBPF instruction 1: unknown opcode 0x1f")
        #expect(refusal([Self.op(I.ld | I.imm, 1), Self.op(0x0e), Self.retK(0)]) == "cBPF instruction 1: unknown opcode 0xe")
        #expect(refusal([Self.op(I.ld | I.imm, 1), Self.op(0x1234), Self.retK(0)]) == "cBPF instruction 1: unknown opcode 0x1234")
        #expect(refusal([Self.op(I.ld | I.imm, 1)])
                == "cBPF instruction 0: the last instruction must be a return (ret #k or ret a); execution could run off the end")
        #expect(refusal([Self.op(I.alu | I.div | I.srcK, 0), Self.retA]) == "cBPF instruction 0: division by the constant zero")
        #expect(refusal([Self.op(I.alu | I.lsh | I.srcK, 32), Self.retA]) == "cBPF instruction 0: shift by 32; shifts are 0 to 31")
        #expect(refusal([Self.op(I.st, 16), Self.retA]) == "cBPF instruction 0: memory word M[16] does not exist (M[0] to M[15])")
        #expect(refusal([Self.op(I.ld | I.imm, 0), Self.op(I.jmp | I.jeq, 0, jt: 0, jf: 1), Self.op(I.st, 2),
                         Self.op(I.ld | I.mem, 2), Self.retA])
                == "cBPF instruction 3: M[2] is read before it is written on some path")
        #expect(refusal([]) == "empty program: a classic filter needs at least a return")
        #expect(refusal([I](repeating: Self.retK(0), count: 4097)) == "4097 instructions; classic programs have at most 4096")
    }

    @Test func decodesStructsAndTcpdumpText() throws {
        let compiled = try FilterExpression("tcp port 80 and ip[8] > 3", linkType: LinkType.ethernet)
        #expect(try ClassicProgram(bytes: compiled.program.bytes) == compiled.program)
        #expect(try ClassicProgram(text: compiled.program.text) == compiled.program)
        // -dd text.
        let dd = compiled.program.instructions.map { "{ 0x\(String($0.code, radix: 16)), \($0.jt), \($0.jf), 0x\(String($0.k, radix: 16)) }," }
        #expect(try ClassicProgram(text: dd.joined(separator: "\n")) == compiled.program)
        // tcpdump's own -ddd output, when tcpdump is installed.
        if let tcpdump = ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"].first(where: FileManager.default.isExecutableFile) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tcpdump)
            let capture = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-ddd-\(getpid()).pcap").path
            try CaptureWriter.write(Packets.mixed(count: 1), to: capture)
            process.arguments = ["-r", capture, "-ddd", "tcp port 80 and ip[8] > 3"]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = Pipe()
            try process.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            #expect(try ClassicProgram(text: text) == compiled.program)
        }
        #expect(throws: ClassicError(.line(3), "expected 'code jt jf k', found 3 fields")) { try ClassicProgram(text: "2\n6 0 0 1\n6 0 0\n") }
        #expect(throws: ClassicError(.line(2), "jt '300' is not a number from 0 to 255")) { try ClassicProgram(text: "1\n6 300 0 1\n") }
        #expect(throws: ClassicError(.line(1), "the count says 3 instructions; 1 follow")) { try ClassicProgram(text: "3\n6 0 0 1\n") }
        #expect(throws: ClassicError(.program, "12 bytes is not a whole number of 8-byte struct sock_filter entries")) {
            try ClassicProgram(bytes: [UInt8](repeating: 6, count: 12))
        }
    }
}
