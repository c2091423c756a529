import BPFBackendTestKit
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITArm32
import BPFRuntime
import Testing

/// Bounds checks on the arm32 JIT report what the interpreter reports.
@Suite struct SafetyTests {
    @Test(arguments: [AccessSize.byte, .half, .word, .double])
    func inputBoundsMatchTheInterpreter(_ size: AccessSize) {
        let memory = [UInt8](repeating: 7, count: 32)
        for offset in [Int16(0), 31, 32 - Int16(size.bytes), 33 - Int16(size.bytes), 40, -1, -8] {
            let load: [Instruction] = [.load(size, dst: .r0, src: .r1, offset: offset), .exit]
            let store: [Instruction] = [.storeImmediate(size, dst: .r1, offset: offset, imm: -1), .mov64(.r0, 1), .exit]
            for program in [load, store] {
                let (jit, interpreter) = bothEngines(program, memory: memory)
                #expect(jit == interpreter, "\(size) at \(offset): \(program[0])")
            }
        }
    }

    /// The checks every backend shares (`SafetyChecks`): loads, stores and
    /// atomics past either end, a page beyond, unaligned controls, null and
    /// wild pointers.
    @Test func outOfBoundsAccessesReportLikeTheInterpreter() {
        SafetyChecks(engine: arm32(), comparesAddresses: false).outOfBoundsAccessesReportLikeTheInterpreter()
    }

    @Test func stackBoundsMatchTheInterpreter() {
        for offset in [Int16(-8), -512, -520, 0, 8] {
            // Through a computed pointer, so the access is checked at run time.
            let program: [Instruction] = [.mov64(.r2, .r10), .store(.double, dst: .r2, offset: offset, src: .r10),
                                          .load(.double, dst: .r0, src: .r2, offset: offset), .alu(.w64, .sub, dst: .r0, .register(.r10)), .exit]
            let (jit, interpreter) = bothEngines(program)
            // The two stacks lie at different addresses: compare the rest of the error.
            if case .failure(.outOfBounds(let pc, _, let size, let write)) = jit,
               case .failure(.outOfBounds(pc, _, size, write)) = interpreter {
                continue
            }
            #expect(jit == interpreter, "r10 \(offset)")
        }
    }

    @Test func misalignedAtomicsStopLikeTheInterpreter() {
        let memory = [UInt8](repeating: 0, count: 32)
        for offset: Int16 in [0, 4, 2, 8, 1] {
            for width in [Width.w32, .w64] {
                let program: [Instruction] = [.mov64(.r2, 5), .atomic(width, .add(fetch: true), dst: .r1, offset: offset, src: .r2),
                                              .load(.double, dst: .r0, src: .r1, offset: 0), .exit]
                let (jit, interpreter) = bothEngines(program, memory: memory)
                #expect(jit == interpreter, "\(width) at \(offset)")
            }
        }
    }

    /// The check is what stops the access: without it the emulator's own
    /// window would let a read within the input's page through.
    @Test func uncheckedModeHasNoChecks() throws {
        let program = Program([.load(.word, dst: .r0, src: .r1, offset: 16), .exit])
        let checked = try arm32().emulate(program)
        let unchecked = try arm32(checking: .unchecked).emulate(program)
        #expect(checked.image.statistics.checkedAccesses == 1)
        #expect(unchecked.image.statistics.checkedAccesses == 0)
        let memory = GuestMemory(bytes: [UInt8](repeating: 1, count: 8))
        let input = RunInput(r1: memory.address, r2: 8, regions: MemoryRegions([memory.region(.input)]))
        if case .failure(.outOfBounds) = Result(catching: { () throws(ExecutionError) in try checked.run(input) }) {} else {
            Issue.record("the checked read past the input was not stopped")
        }
    }

    @Test func unsupportedInstructionsStopAtTheirPc() {
        let program: [Instruction] = [.mov64(.r0, 1), .call(.kfunc(btfID: 7)), .exit]
        let (jit, interpreter) = bothEngines(program)
        #expect(jit == interpreter)
        if case .failure(.unsupported(let pc, _)) = jit { #expect(pc == 1) } else { Issue.record("kfunc: \(jit)") }
    }

    @Test func runawayLoopsStop() {
        let (jit, _) = bothEngines([.mov64(.r0, 0), .jump(offset: -1), .exit], limit: 1000)
        if case .failure(.instructionLimit) = jit {} else { Issue.record("loop: \(jit)") }
    }
}
