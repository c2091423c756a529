import BPFISA
import BPFMaps
import BPFRuntime
import BPFVerifier
import Testing
@testable import BPFHelpers

/// `struct __sk_buff` accesses of tc programs, against the kernel's
/// `tc_cls_act_is_valid_access` and `bpf_skb_is_valid_access`.
@Suite struct TCContextTests {
    let tc = TCProgramType()

    func rewrite(_ instructions: [Instruction]) throws(ContextAccessError) -> [Instruction] {
        try tc.rewriteContextAccesses(in: Program(instructions)).instructions
    }

    func refused(_ access: Instruction, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try rewrite([access, .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit])
            Issue.record("accepted \(access)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.pc == 0 && error.reason.contains(text), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func packetPointersBecome64BitLoadsAndOtherFieldsStay() throws {
        let out = try rewrite([
            .load(.word, dst: .r2, src: .r1, offset: 76), .load(.word, dst: .r3, src: .r1, offset: 80),
            .load(.word, dst: .r4, src: .r1, offset: 140), .load(.word, dst: .r5, src: .r1, offset: 0),
            .load(.byte, dst: .r5, src: .r1, offset: 17), .load(.half, dst: .r5, src: .r1, offset: 18),
            .load(.double, dst: .r5, src: .r1, offset: 48), .load(.double, dst: .r5, src: .r1, offset: 152),
            .store(.word, dst: .r1, offset: 8, src: .r5), .store(.double, dst: .r1, offset: 56, src: .r5),
            .storeImmediate(.word, dst: .r1, offset: 32, imm: 7), .exit,
        ])
        #expect(Array(out[0..<3]) == [
            .load(.double, dst: .r2, src: .r1, offset: Int16(SKBContext.data)),
            .load(.double, dst: .r3, src: .r1, offset: Int16(SKBContext.dataEnd)),
            .load(.double, dst: .r4, src: .r1, offset: Int16(SKBContext.dataMeta)),
        ])
        #expect(Array(out[3...]) == [
            .load(.word, dst: .r5, src: .r1, offset: 0), .load(.byte, dst: .r5, src: .r1, offset: 17),
            .load(.half, dst: .r5, src: .r1, offset: 18), .load(.double, dst: .r5, src: .r1, offset: 48),
            .load(.double, dst: .r5, src: .r1, offset: 152), .store(.word, dst: .r1, offset: 8, src: .r5),
            .store(.double, dst: .r1, offset: 56, src: .r5), .storeImmediate(.word, dst: .r1, offset: 32, imm: 7), .exit,
        ])
    }

    @Test func sixteenBitFieldsKeepTheLowHalf() throws {
        let out = try rewrite([
            .store(.word, dst: .r1, offset: 44, src: .r2), .store(.word, dst: .r1, offset: 72, src: .r2),
            .storeImmediate(.word, dst: .r1, offset: 12, imm: 3), .storeImmediate(.word, dst: .r1, offset: 12, imm: 0xffff), .exit,
        ])
        #expect(out == [
            .store(.half, dst: .r1, offset: 44, src: .r2), .store(.half, dst: .r1, offset: 72, src: .r2),
            .storeImmediate(.half, dst: .r1, offset: 12, imm: 3), .jump(offset: 0), .exit,
        ])
    }

    @Test func accessesTheKernelRefusesAreRefused() {
        refused(.store(.word, dst: .r1, offset: 0, src: .r2), containing: "__sk_buff.len")
        refused(.store(.word, dst: .r1, offset: 16, src: .r2), containing: "may write only")
        refused(.store(.word, dst: .r1, offset: 76, src: .r2), containing: "__sk_buff.data")
        refused(.store(.half, dst: .r1, offset: 8, src: .r2), containing: "whole 4-byte")
        refused(.load(.double, dst: .r0, src: .r1, offset: 8), containing: "at most 4 bytes")
        refused(.load(.half, dst: .r0, src: .r1, offset: 76), containing: "packet pointers")
        refused(.load(.word, dst: .r0, src: .r1, offset: 88), containing: "socket fields")
        refused(.load(.word, dst: .r0, src: .r1, offset: 136), containing: "socket fields")
        refused(.load(.double, dst: .r0, src: .r1, offset: 144), containing: "flow_keys")
        refused(.load(.double, dst: .r0, src: .r1, offset: 168), containing: "__sk_buff.sk")
        refused(.load(.word, dst: .r0, src: .r1, offset: 152), containing: "8 bytes")
        refused(.store(.double, dst: .r1, offset: 184, src: .r2), containing: "may write only")
        refused(.load(.byte, dst: .r0, src: .r1, offset: 180), containing: "tstamp_type")
        refused(.load(.word, dst: .r0, src: .r1, offset: 2), containing: "aligned")
        refused(.load(.word, dst: .r0, src: .r1, offset: 192), containing: "outside struct __sk_buff")
        refused(.load(.double, dst: .r0, src: .r1, offset: 64), containing: "past cb[4]")
        refused(.loadSignExtend(.word, dst: .r0, src: .r1, offset: 0), containing: "sign-extending")
        refused(.atomic(.w32, .add(fetch: false), dst: .r1, offset: 8, src: .r2), containing: "atomic")
    }

    @Test func sectionsAndNamesChooseTheType() {
        for section in ["tc", "classifier", "classifier/ingress", "tc/egress", "tcx/ingress"] {
            #expect(ProgramTypes.forSection(section)?.name == "tc", "\(section)")
        }
        #expect(ProgramTypes.forSection("tcx")?.name == nil)
        #expect(ProgramTypes.named("sched_cls")?.name == "tc")
        #expect(!XDPProgramType().allows(.skbStoreBytes) && !MemProgramType().allows(.skbLoadBytes))
        #expect(TCProgramType().allows(.skbStoreBytes) && !TCProgramType().allows(.xdpAdjustHead))
    }

    /// The helpers that change the packet make the verifier forget packet pointers.
    @Test func packetChangingHelpersMovePacketForTheVerifier() {
        for helper in [KernelHelper.skbStoreBytes, .l3CsumReplace, .l4CsumReplace, .skbChangeTail, .skbChangeHead, .skbPullData,
                       .skbAdjustRoom, .skbChangeProto, .skbVlanPush, .skbVlanPop] {
            #expect(helper.verifierDescription.movesPacket, "\(helper)")
        }
        #expect(!KernelHelper.skbLoadBytes.verifierDescription.movesPacket)
    }

    @Test func testRunFieldsAreSetAsTheKernelSetsThem() throws {
        let packet: [UInt8] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 0x86, 0xdd] + [UInt8](repeating: 0, count: 40)
        let run = try tc.makeRun(input: packet, maps: MapTable([]).regions) as! TCProgramType.TCRun
        let context = run.skb.context
        #expect(context.load(UInt32.self, at: SKBContext.length) == 54)
        #expect(context.load(UInt32.self, at: SKBContext.packetType) == 2)   // multicast: loopback has no broadcast address
        #expect(context.load(UInt32.self, at: SKBContext.protocolField) == UInt32(UInt16(0x86dd).bigEndian))
        #expect(context.load(UInt32.self, at: SKBContext.interface) == 1)
        #expect(context.load(UInt32.self, at: SKBContext.wireLength) == 0)
        #expect(run.contextOutput()?.count == 192)
        #expect(SKBuff.ethernetProtocol([UInt8](repeating: 0, count: 12) + [0x00, 0x30, 0xff, 0xff]) == UInt16(1).bigEndian)
        #expect(SKBuff.ethernetProtocol([UInt8](repeating: 0, count: 12) + [0x00, 0x30, 0xff, 0xfe]) == UInt16(4).bigEndian)
        #expect(throws: ProgramRunError.self) { _ = try tc.makeRun(input: Array(packet.prefix(53)), maps: MapTable([]).regions) }
        #expect(throws: ProgramRunError.self) { _ = try SKBSettings(contextIn: [UInt8](repeating: 1, count: 192)) }
    }

    /// The kernel's checksum primitives on worked values (RFC 1624's example:
    /// replacing 0x5555 by 0x3285 under checksum 0xdd2f gives 0x0000's
    /// neighbour 0xffff... computed as `~(~HC + ~m + m')`).
    @Test func checksumUpdatesFollowRFC1624() {
        // HC = 0xdd2f, m = 0x5555, m' = 0x3285: HC' = ~(~0xdd2f + ~0x5555 + 0x3285) = 0x0000 in ones' complement arithmetic.
        #expect(KernelChecksum.replace2(0xdd2f, 0x5555, 0x3285) == 0x0000)
        #expect(KernelChecksum.replace4(0xdd2f, 0x5555, 0x3285) == 0x0000)
        // A full recomputation agrees with an incremental one.
        var header: [UInt8] = [0x45, 0, 0, 20, 0x12, 0x34, 0, 0, 64, 6, 0, 0, 192, 168, 1, 10, 10, 0, 0, 1]
        func sum(_ h: [UInt8]) -> UInt16 {
            var s: UInt32 = 0
            for i in stride(from: 0, to: h.count, by: 2) { s += UInt32(h[i]) << 8 | UInt32(h[i + 1]) }
            while s >> 16 != 0 { s = (s & 0xffff) + (s >> 16) }
            return ~UInt16(s)
        }
        let before = sum(header)
        header[10] = UInt8(before >> 8); header[11] = UInt8(before & 0xff)
        let oldAddress = header[16..<20].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        header[16] = 172; header[17] = 16; header[18] = 5; header[19] = 9
        let newAddress = header[16..<20].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        let stored = header[10..<12].withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) }
        let updated = KernelChecksum.replace4(stored, oldAddress, newAddress)
        header[10] = 0; header[11] = 0
        let expected = sum(header)
        #expect(updated == expected.bigEndian)
    }
}

@Suite struct TCActionTests {
    /// The values of `<linux/pkt_cls.h>`; r0 is read as a 32-bit signed value.
    @Test func verdictsHaveTheKernelsValues() {
        #expect(TCAction(returnValue: 0) == .ok && TCAction(returnValue: 2) == .shot && TCAction(returnValue: 7) == .redirect)
        #expect(TCAction(returnValue: 0xffff_ffff) == .unspecified && TCAction(returnValue: UInt64.max) == .unspecified)
        #expect(TCAction(returnValue: 9) == nil && TCAction.trap.rawValue == 8 && "\(TCAction.shot)" == "TC_ACT_SHOT")
    }
}

@Suite struct TCVerifierTests {
    /// The verifier proves context writes inside the fields tc programs may
    /// write and leaves every other context write to the run-time check.
    @Test func contextWritesAreProvenOnlyInWritableFields() {
        let environment = VerifierEnvironment.forProgram(type: TCProgramType(), maps: [], kernelHelpers: [])
        let program = Program([
            .storeImmediate(.word, dst: .r1, offset: Int16(SKBContext.mark), imm: 1),          // 0: mark
            .store(.double, dst: .r1, offset: Int16(SKBContext.controlBlock + 8), src: .r1),   // 1: cb[2..3]
            .storeImmediate(.double, dst: .r1, offset: Int16(SKBContext.timestamp), imm: 5),   // 2: tstamp
            .storeImmediate(.word, dst: .r1, offset: Int16(SKBContext.length), imm: 1),        // 3: len: read-only
            .storeImmediate(.word, dst: .r1, offset: Int16(SKBContext.hash), imm: 1),          // 4: hash: read-only
            .storeImmediate(.double, dst: .r1, offset: Int16(SKBContext.data), imm: 0),        // 5: the packet pointer
            .load(.word, dst: .r2, src: .r1, offset: Int16(SKBContext.length)),               // 6: reads are proven
            .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit,
        ])
        let proofs = Verifier.verify(program, environment: environment).proofs
        #expect((0...2).allSatisfy { proofs.isSafeAccess(at: $0) })
        #expect(!(3...5).contains { proofs.isSafeAccess(at: $0) })
        #expect(proofs.isSafeAccess(at: 6))
    }
}
