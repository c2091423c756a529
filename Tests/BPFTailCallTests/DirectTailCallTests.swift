#if arch(x86_64)
import BPFExecMemory
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFKit
import BPFMaps
import BPFNativeDisassembler
import BPFRuntime
import BPFTestSuite
import Testing

/// Direct tail calls on the x86-64 JIT: the sites, their patching, their listing.
@Suite struct DirectTailCallTests {
    func compile(_ f: Fixture, _ program: Program) throws -> NativeProgram {
        try #require(try f.prepare(program) as? NativeProgram)
    }

    /// The native instructions at `offset` of a live image, as Capstone reads them.
    func instruction(_ program: NativeProgram, at offset: Int) throws -> NativeInstruction {
        let address = program.image.address + UInt(offset)
        let bytes = try ProgramPack.jit.bytes(at: ExecutableAddress(rawValue: address), count: 16)
        return try #require(try NativeDisassembler(.x86_64).disassemble(bytes, address: UInt64(address)).first)
    }

    @Test func constantIndexGivesADirectSiteThatIsPatchedAndRestored() throws {
        let f = try Fixture(X86_64JIT())
        let main = Code { Code.Item.tailCall(index: 1); Instruction.mov(.r0, 99); Instruction.exit }.program("main")
        let caller = try compile(f, main)
        #expect(caller.image.statistics.directTailCalls == 1 && caller.image.statistics.indirectTailCalls == 0)
        let site = try #require(caller.image.tailCallSites.first)
        #expect(site.kind == .jump && site.index == 1 && site.arrayHandle == f.array.handle)
        for offset in [site.bypassOffset, site.targetOffset] {
            #expect((Int(caller.image.address) + offset) % 8 <= 3, "the 5 patched bytes lie in one aligned 8-byte word")
        }
        #expect(f.array.pokeCount(at: 1) == 1)
        var state = try #require(caller.tailCallSiteStates.first)
        #expect(state.bypassActive && state.target == nil)
        #expect(try instruction(caller, at: site.bypassOffset).text.hasPrefix("jmp"))

        let target = try f.target(returns(7))
        try f.array.set(target, at: 1)
        let entry = try #require(target.prepared(for: X86_64JIT.tailCallEngine)).tailCallEntry
        state = try #require(caller.tailCallSiteStates.first)
        #expect(!state.bypassActive && state.target == entry && state.patchFailures == 0)
        #expect(try instruction(caller, at: site.bypassOffset).text == "nop dword ptr [rax + rax]")
        #expect(try instruction(caller, at: site.targetOffset).text == "jmp 0x\(String(entry, radix: 16))")
        #expect(try f.run(caller).0 == 7)

        try f.array.clear(at: 1)
        state = try #require(caller.tailCallSiteStates.first)
        #expect(state.bypassActive && state.target == entry, "the bypass is back; the target still leads to a live program")
        #expect(Array(try ProgramPack.jit.bytes(at: ExecutableAddress(rawValue: caller.image.address + UInt(site.bypassOffset)),
                                                 count: 5)) == site.bypassBytes)
        #expect(try f.run(caller).0 == 99)
    }

    @Test func subprogramSitesCallAndIndexRegistersAreIndirect() throws {
        let f = try Fixture(X86_64JIT())
        let main = Code {
            Code.Item.call("sub")
            Instruction.exit
            Code.Item.label("sub")
            Code.Item.tailCall(index: 2)
            Instruction.mov(.r6, 1)
            Code.Item.tailCall(indexIn: .r6)
            Instruction.mov(.r0, 5)
            Instruction.exit
        }.program("main")
        let caller = try compile(f, main)
        #expect(caller.image.statistics.directTailCalls == 1 && caller.image.statistics.indirectTailCalls == 1)
        #expect(caller.image.tailCallSites.map(\.kind) == [.call])
        try f.set(2, returns(8))
        let entry = try #require(f.array.entry(at: 2).target?.prepared(for: X86_64JIT.tailCallEngine)?.tailCallEntry)
        let site = caller.image.tailCallSites[0]
        #expect(try instruction(caller, at: site.targetOffset).text == "call 0x\(String(entry, radix: 16))")
        #expect(try f.run(caller).0 == 8)
        try f.array.clear(at: 2)
        try f.set(1, returns(9))
        #expect(try f.run(caller).0 == 9)
    }

    /// A released caller leaves no site behind for the array to patch.
    @Test func releasedCallersUnregister() throws {
        let f = try Fixture(X86_64JIT())
        let main = Code { Code.Item.tailCall(index: 0); Code.Item.tailCall(index: 0); Instruction.exit }.program("main")
        var caller: NativeProgram? = try compile(f, main)
        #expect(f.array.pokeCount(at: 0) == 2)
        caller = nil
        #expect(f.array.pokeCount(at: 0) == 0)
        try f.set(0, returns(1))
        _ = caller
    }

    /// An entry the site's rel32 cannot reach keeps the bypass: the indirect path runs it.
    @Test func unreachableEntriesKeepTheBypass() throws {
        let patching = X86TailCallPatching()
        let site = JITTailCallSite(pc: 0, arrayHandle: 1, index: 0, kind: .jump, bypassOffset: 0,
                                   bypassBytes: [0xe9, 0, 0, 0, 0], targetOffset: 8)
        #expect(patching.targetInstruction(for: site, imageAddress: 0x1000, entry: 0x1000 + 13 + 0x10) == [0xe9, 0x10, 0, 0, 0])
        #expect(patching.targetInstruction(for: site, imageAddress: 0x1000, entry: 0x1000 + 13 - 2) == [0xe9, 0xfe, 0xff, 0xff, 0xff])
        #expect(patching.targetInstruction(for: site, imageAddress: 0x1000, entry: 0x7fff_0000_0000) == nil)
        let call = JITTailCallSite(pc: 0, arrayHandle: 1, index: 0, kind: .call, bypassOffset: 0,
                                   bypassBytes: [0xe9, 0, 0, 0, 0], targetOffset: 8)
        #expect(patching.targetInstruction(for: call, imageAddress: 0x1000, entry: 0x1000 + 13)?.first == 0xe8)
        #expect(patching.inactiveBypass(for: site) == [0x0f, 0x1f, 0x44, 0x00, 0x00])
    }

    /// `bpfkit dump jited` lists the sites.
    @Test func listingShowsTheSites() throws {
        let f = try Fixture(X86_64JIT())
        let main = Code {
            Code.Item.tailCall(index: 1)
            Code.Item.tailCall(index: 3)
            Instruction.mov(.r6, 1)
            Code.Item.tailCall(indexIn: .r6)
            Instruction.exit
        }.program("main")
        let linked = try f.link(main)
        let image = try EngineCatalog.jitImage(linked.program, architecture: .x86_64,
                                               configuration: linked.engineConfiguration())
        let text = try JITListing(image: image, program: linked.program).text
        #expect(text.contains("; direct tail call sites: 2, indirect tail calls: 1"), "\(text)")
        #expect(text.contains("slot 3, bypass at"))
    }
}
#endif
