import BPFBackendTestKit
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFRuntime
import Testing

/// Helpers with a native entry (`NativeHelper`): called directly by JITed
/// code with r1–r5, the frame and the data word; the fallback takes the
/// full path; results and errors match the interpreter (which runs the bodies).
@Suite struct NativeHelperCallTests {
    /// The data word of the test helpers: a constant and a count of native hits.
    final class Data: @unchecked Sendable {
        let words = UnsafeMutablePointer<UInt64>.allocate(capacity: 2)
        init() { words.initialize(repeating: 0, count: 2); words[0] = 1_000 }
        deinit { words.deallocate() }
        var hits: UInt64 { words[1] }
    }

    /// Helper 3: `*(u64 *)r1 + r2` — native when the 8 bytes are on the BPF stack.
    static func read(_ data: Data) -> Helper {
        let native = NativeHelper({ a1, a2, a3, a4, a5, raw, data in
            let frame = NativeHelperFrame.at(raw)
            guard frame.pointee.inStack(a1, count: 8), let words = UnsafeMutablePointer(mutating: data?.assumingMemoryBound(to: UInt64.self)) else {
                return frame.fallBack(a1, a2, a3, a4, a5)
            }
            words[1] += 1
            return UnsafeRawPointer(bitPattern: UInt(a1))!.loadUnaligned(as: UInt64.self) &+ a2
        }, data: UnsafeRawPointer(data.words), owner: data)
        return Helper(id: 3, name: "read", prototype: HelperPrototype([.pointer(readOnly: true), .scalar(bits: 64)], returns: .scalar(bits: 64)),
                      native: native) { call throws(HelperError) in
            try call.memory.load(UInt64.self, at: call.argument(1)) &+ call.argument(2)
        }
    }

    /// Helper 4: `r1 + 2 r2 + 3 r3 + 4 r4 + 5 r5 + 1000`, the 1000 read from the data word natively.
    static func weigh(_ data: Data) -> Helper {
        let native = NativeHelper({ a1, a2, a3, a4, a5, _, data in
            let words = UnsafeMutablePointer(mutating: data!.assumingMemoryBound(to: UInt64.self))
            words[1] += 1
            return a1 &+ 2 &* a2 &+ 3 &* a3 &+ 4 &* a4 &+ 5 &* a5 &+ words[0]
        }, data: UnsafeRawPointer(data.words), owner: data)
        return Helper(id: 4, name: "weigh", prototype: HelperPrototype([.scalar(bits: 64)], returns: .scalar(bits: 64)),
                      native: native) { call in
            call.argument(1) &+ 2 &* call.argument(2) &+ 3 &* call.argument(3) &+ 4 &* call.argument(4) &+ 5 &* call.argument(5) &+ 1_000
        }
    }

    @Test func stackPointersTakeTheNativePath() {
        let data = Data()
        let program: [Instruction] = [
            .ld64(.r1, 0x1122_3344_5566_7788), .store(.double, dst: .r10, offset: -16, src: .r1),
            .mov64(.r1, .r10), .alu(.w64, .add, dst: .r1, .immediate(-16)), .mov64(.r2, 5), .call(.helper(3)), .exit,
        ]
        let both = bothEngines(program, helpers: [Self.read(data)])
        #expect(both.jit == .value(0x1122_3344_5566_778d) && both.jit == both.interpreter)
        #expect(data.hits == 1)
    }

    @Test func otherPointersFallBackToTheBody() {
        let data = Data()
        // r1 points at the input region: the body reads it.
        let input: [Instruction] = [.mov64(.r2, 1), .call(.helper(3)), .exit]
        let bytes: [UInt8] = [9, 0, 0, 0, 0, 0, 0, 0]
        let both = bothEngines(input, memory: bytes, helpers: [Self.read(data)])
        #expect(both.jit == .value(10) && both.jit == both.interpreter)
        // Out of every region: the body's error, at the call's pc.
        let bad: [Instruction] = [.mov64(.r6, 1), .mov64(.r1, 64), .call(.helper(3)), .exit]
        let failed = bothEngines(bad, helpers: [Self.read(data)])
        guard case .failure(.helperFailed(pc: 2, id: 3, _)) = failed.jit else {
            Issue.record("expected helperFailed at pc 2, got \(failed.jit)")
            return
        }
        #expect(failed.jit == failed.interpreter)
        // Straddling the stack's top.
        let straddle: [Instruction] = [.mov64(.r1, .r10), .alu(.w64, .add, dst: .r1, .immediate(-4)), .call(.helper(3)), .exit]
        let over = bothEngines(straddle, helpers: [Self.read(data)])
        for outcome in [over.jit, over.interpreter] {   // the messages name each engine's own stack address
            guard case .failure(.helperFailed(pc: 2, id: 3, let message)) = outcome, message.contains("read of 8 bytes") else {
                Issue.record("expected the read to fail at pc 2, got \(outcome)")
                continue
            }
        }
        #expect(data.hits == 0)
    }

    /// Every subset of r1–r5 read after the call (so every number of pushes
    /// and both paddings) with the data word on the stack: the 7th argument
    /// must be where the C ABI puts it, and the kept registers intact.
    @Test func keptRegistersAndTheDataWordAtEveryPadding() {
        let data = Data()
        let arguments: [Register] = [.r1, .r2, .r3, .r4, .r5]
        for mask in 0..<32 {
            var program: [Instruction] = arguments.enumerated().map { .mov64($1, Int32($0 + 1) * 11) }
            program.append(.call(.helper(4)))
            for (i, register) in arguments.enumerated() where mask & (1 << i) != 0 {
                program.append(.alu(.w64, .mul, dst: .r0, .immediate(3)))
                program.append(.alu(.w64, .add, dst: .r0, .register(register)))
            }
            program.append(.exit)
            let both = bothEngines(program, helpers: [Self.weigh(data)])
            #expect(both.jit == both.interpreter, "registers read after the call: \(mask)")
            if case .value = both.jit {} else { Issue.record("mask \(mask): \(both.jit)") }
        }
        #expect(data.hits == 32)
    }

    /// A register read after the call on one path only is still kept.
    @Test func registersLiveOnOnePathAreKept() {
        let data = Data()
        let program: [Instruction] = [
            .mov64(.r1, 1), .mov64(.r2, 2), .mov64(.r3, 3), .mov64(.r4, 4), .mov64(.r5, 5), .mov64(.r6, 0),
            .call(.helper(4)),
            .branch(.w64, .eq, dst: .r6, .immediate(0), offset: 2),
            .mov64(.r0, .r4), .exit,
            .alu(.w64, .add, dst: .r0, .register(.r3)), .exit,
        ]
        let both = bothEngines(program, helpers: [Self.weigh(data)])
        #expect(both.jit == .value(1 + 4 + 9 + 16 + 25 + 1_000 + 3) && both.jit == both.interpreter)
    }
}
