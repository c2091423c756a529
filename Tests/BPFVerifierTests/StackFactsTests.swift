import BPFHelpers
import BPFISA
import BPFKit
import BPFLoader
import BPFMaps
import BPFRuntime
import BPFTestSuite
import BPFVerifier
import Foundation
import Testing

/// Instructions with named jump targets (the test suite's `Code` assembler).
typealias Asm = Code.Item

/// The slots of the helper calls of `program` to the map helpers (1, 2, 3, 195).
func mapHelperCalls(_ program: Program) -> [Int] {
    program.instructions.indices.filter {
        if case .call(.helper(let id)) = program.instructions[$0] { return [1, 2, 3, 195].contains(id) }
        return false
    }
}

/// The three stack and helper facts on the benchmark programs and the examples.
@Suite(.enabled(if: clangAvailable, "clang and the libbpf headers build the programs"))
struct StackFactsPrecisionTests {
    /// Per program: the stack depth it really uses (the deepest `r10 - k` of
    /// its code, key and value sizes included). Every program of bench/*.c
    /// must be here, and all three facts must hold for it.
    static let benchDepths: [String: Int] = [
        "tcp_checksum": 0, "crc32": 0, "flow_lookup": 32, "fnv1a": 0, "helper_calls": 16, "int_loop": 0,
        "local_calls": 0, "map_updates": 32, "sort64": 256,
        "bsort": 184, "crc32_bitwise": 0, "tokenizer": 32, "matmul": 440,
        "stage_ip": 4, "stage_ports": 4, "stage_verdict": 4, "pipeline": 4,
    ]

    /// The examples: (file, program, depth, helper calls proven of reached). All get the three facts.
    static let examples: [(String, String, Int, Int)] = [
        ("examples/atomics.c", "atomics", 4, 1),
        ("examples/global_data.c", "global_data", 0, 1),
        ("examples/ringbuf_events.c", "ringbuf_events", 48, 4),
        ("examples/tail_call_pipeline.c", "parse", 4, 14),
        ("examples/tail_call_pipeline.c", "ipv4", 4, 2),
        ("examples/tail_call_pipeline.c", "finish", 4, 1),
        ("examples/tail_call_pipeline.c", "loop", 4, 2),
        ("examples/tail_call_pipeline.c", "loop_sub", 4, 2),
        ("examples/tail_call_pipeline.c", "pipeline", 4, 2),
        ("examples/xdp_adjust.c", "adjust", 16, 3),
        ("examples/xdp_proto_count.c", "count_protocols", 24, 3),
        ("examples/xdp_swap_mac.c", "swap_mac", 8, 1),
    ]

    /// Bench programs whose stack facts the verifier does not prove yet, and why.
    /// Each is checked to be still unproven, so that proving it moves it to `benchDepths`.
    static let benchNotProven: [String: String] = [:]

    static var benchFiles: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: repository.appendingPathComponent("bench").path)) ?? []
        return names.filter { $0.hasSuffix(".c") && $0 != "native_main.c" }.sorted().map { "bench/" + $0 }
    }

    func expectFacts(_ linked: LinkedProgram, depth: Int, _ where_: String) {
        let report = linked.verification
        let proofs = report.proofs
        #expect(proofs.stackReadsInitialized, "\(where_): \(report.log)")
        #expect(proofs.stackDepth == depth, "\(where_): depth \(String(describing: proofs.stackDepth)) \(report.log)")
        for pc in mapHelperCalls(linked.program) {
            let proof = proofs.helperCall(at: pc)
            #expect(proof != nil, "\(where_): map helper call at \(pc) has no proof")
            #expect(proof?.mapHandle != nil, "\(where_): call at \(pc): r1 not one map")
            #expect(proof?.memoryArgumentsInBounds == true, "\(where_): call at \(pc): \(report.log)")
        }
        #expect(report.helperCallsInBounds == report.helperCallCount, "\(where_): \(report.log)")
    }

    @Test(arguments: benchFiles)
    func benchProgramsGetAllThreeFacts(_ path: String) throws {
        for linked in try linkedPrograms(path) {
            if Self.benchNotProven[linked.name] != nil {
                let proofs = linked.verification.proofs
                #expect(!proofs.stackReadsInitialized || proofs.stackDepth == nil, "\(linked.name) is proven now: give it its depth in benchDepths")
                continue
            }
            let depth = try #require(Self.benchDepths[linked.name], "\(linked.name) of \(path) has no expected depth")
            expectFacts(linked, depth: depth, "\(path): \(linked.name)")
        }
    }

    @Test func benchMapHelperCallsAreCovered() throws {
        // The benchmark suite does call the map helpers: the facts above are not vacuous.
        var calls = 0
        for path in Self.benchFiles { for linked in try linkedPrograms(path) { calls += mapHelperCalls(linked.program).count } }
        #expect(calls >= 10, "\(calls)")
    }

    @Test(arguments: Set(examples.map(\.0)).sorted())
    func examplesGetThem(_ path: String) throws {
        let programs = try linkedPrograms(path)
        let wanted = Self.examples.filter { $0.0 == path }
        #expect(programs.count == wanted.count)
        for (_, name, depth, helpers) in wanted {
            let linked = try #require(programs.first { $0.name == name })
            expectFacts(linked, depth: depth, "\(path): \(name)")
            #expect(linked.verification.helperCallCount == helpers, "\(name)")
        }
    }
}

/// Programs for which a stack or helper fact must NOT be proven, each next
/// to a control for which it must.
struct StackFactsNegativeTests {
    static let data = XDP.data(.r2), dataEnd = XDP.dataEnd(.r3)

    /// r2 = data, r3 = data_end, r4 = the first packet byte (or exit 0 on an empty packet), then `body`, then exit.
    func withPacketByte(_ body: [Asm]) -> [Instruction] {
        Code.assemble([
            .i(Self.data), .i(Self.dataEnd),
            .i(.alu(.w64, .mov, dst: .r4, .register(.r2))),
            .i(.alu(.w64, .add, dst: .r4, .immediate(1))),
            .compare(.w64, .gt, .r4, .register(.r3), "out"),
            .i(.load(.byte, dst: .r4, src: .r2, offset: 0)),
        ] + body + [
            .label("out"),
            .i(.alu(.w64, .mov, dst: .r0, .immediate(0))), .i(.exit),
        ])
    }

    @Test func readOfABytesNeverWritten() throws {
        func program(_ size: AccessSize) -> [Instruction] {
            [.storeImmediate(size, dst: .r10, offset: -8, imm: 1), .load(.double, dst: .r0, src: .r10, offset: -8), .exit]
        }
        let control = try verifyXDP(program(.double)).verification
        #expect(control.proofs.stackReadsInitialized, "\(control.log)")
        #expect(control.proofs.stackDepth == 8)
        let partial = try verifyXDP(program(.word)).verification
        #expect(!partial.proofs.stackReadsInitialized)
        #expect(partial.stackReadProblem?.contains("uninitialized stack read at pc 1") == true, "\(partial.log)")
        #expect(partial.log.contains { $0.contains("uninitialized stack read at pc 1") })
        #expect(partial.proofs.stackDepth == 8, "the depth does not depend on initialization")
        // Everything else is proven as before.
        #expect(partial.unproven.isEmpty && partial.proofs.terminates)
        let none = try verifyXDP([.load(.byte, dst: .r0, src: .r10, offset: -1), .exit]).verification
        #expect(!none.proofs.stackReadsInitialized)
    }

    @Test func readWhereOnlyOneBranchWrote() throws {
        func program(elseWrites: Bool) -> [Instruction] {
            withPacketByte([
                .compare(.w64, .eq, .r4, .immediate(0), "else"),
                .i(.store(.double, dst: .r10, offset: -8, src: .r4)),
                .jump("join"),
                .label("else"),
            ] + (elseWrites ? [.i(.storeImmediate(.double, dst: .r10, offset: -8, imm: 7))] : []) + [
                .label("join"),
                .i(.load(.double, dst: .r5, src: .r10, offset: -8)),
                .i(.store(.byte, dst: .r2, offset: 0, src: .r5)),
            ])
        }
        let control = try verifyXDP(program(elseWrites: true)).verification
        #expect(control.proofs.stackReadsInitialized, "\(control.log)")
        #expect(control.proofs.stackDepth == 8)
        let one = try verifyXDP(program(elseWrites: false)).verification
        #expect(!one.proofs.stackReadsInitialized, "the join must not be pruned against the branch that wrote")
        #expect(one.stackReadProblem?.contains("uninitialized stack read") == true, "\(one.log)")
        #expect(one.unproven.isEmpty)
    }

    @Test func variableOffsetReadOverPartlyWrittenBytes() throws {
        // r5 = r10 - 16 + (byte & 7): an 1-byte read anywhere in [-16, -8).
        func program(_ writes: [Instruction]) -> [Instruction] {
            withPacketByte(writes.map { .i($0) } + [
                .i(.alu(.w64, .and, dst: .r4, .immediate(7))),
                .i(.alu(.w64, .mov, dst: .r5, .register(.r10))),
                .i(.alu(.w64, .add, dst: .r5, .immediate(-16))),
                .i(.alu(.w64, .add, dst: .r5, .register(.r4))),
                .i(.load(.byte, dst: .r0, src: .r5, offset: 0)),
                .i(.store(.byte, dst: .r2, offset: 0, src: .r0)),
            ])
        }
        let control = try verifyXDP(program([.storeImmediate(.double, dst: .r10, offset: -16, imm: 0)])).verification
        #expect(control.proofs.stackReadsInitialized, "\(control.log)")
        #expect(control.proofs.stackDepth == 16)
        let partly = try verifyXDP(program([.storeImmediate(.word, dst: .r10, offset: -16, imm: 0)])).verification
        #expect(!partly.proofs.stackReadsInitialized)
        #expect(partly.stackReadProblem?.contains("byte -12") == true, "\(partly.log)")
        // A store at a variable offset writes nothing the verifier can name.
        let variableStore = withPacketByte([
            .i(.alu(.w64, .and, dst: .r4, .immediate(7))),
            .i(.alu(.w64, .mov, dst: .r5, .register(.r10))),
            .i(.alu(.w64, .add, dst: .r5, .immediate(-16))),
            .i(.alu(.w64, .add, dst: .r5, .register(.r4))),
            .i(.storeImmediate(.byte, dst: .r5, offset: 0, imm: 1)),
            .i(.load(.byte, dst: .r0, src: .r10, offset: -16)),
        ])
        let report = try verifyXDP(variableStore).verification
        #expect(!report.proofs.stackReadsInitialized)
        #expect(report.proofs.stackDepth == 16, "the variable store reaches -16 at its lowest")
    }

    @Test func loopThatWritesThenReads() throws {
        // for (r6 = n; r6 != 0; r6--) { if reads first: r0 = *(r10 - 8); *(r10 - 8) = r6; r0 = *(r10 - 8) }
        func program(readFirst: Bool, count: Asm) -> [Instruction] {
            withPacketByte([
                count,
                .i(.alu(.w64, .add, dst: .r6, .immediate(1))),
                .label("loop"),
            ] + (readFirst ? [.i(.load(.double, dst: .r0, src: .r10, offset: -8))] : []) + [
                .i(.store(.double, dst: .r10, offset: -8, src: .r6)),
                .i(.load(.double, dst: .r0, src: .r10, offset: -8)),
                .i(.alu(.w64, .sub, dst: .r6, .immediate(1))),
                .compare(.w64, .ne, .r6, .immediate(0), "loop"),
            ])
        }
        for count in [Asm.i(.alu(.w64, .mov, dst: .r6, .immediate(5))), .i(.alu(.w64, .mov, dst: .r6, .register(.r4)))] {
            let control = try verifyXDP(program(readFirst: false, count: count)).verification
            #expect(control.proofs.stackReadsInitialized, "\(control.log)")
            #expect(control.proofs.stackDepth == 8)
            let first = try verifyXDP(program(readFirst: true, count: count)).verification
            #expect(!first.proofs.stackReadsInitialized, "the first iteration reads before the loop wrote")
        }
        // A loop whose bound is unknown (widened) and that writes only on
        // some iterations: the head's state keeps only what every iteration wrote.
        func unbounded(writeEveryTime: Bool) -> [Instruction] {
            Code.assemble([
                .i(Self.data), .i(Self.dataEnd),
                .i(.alu(.w64, .mov, dst: .r4, .register(.r2))),
                .i(.alu(.w64, .add, dst: .r4, .immediate(8))),
                .compare(.w64, .gt, .r4, .register(.r3), "out"),
                .i(.load(.double, dst: .r6, src: .r2, offset: 0)),
                .i(.storeImmediate(.double, dst: .r10, offset: -16, imm: 0)),
                .label("loop"),
                .i(.load(.double, dst: .r0, src: .r10, offset: -16)),
                .i(.alu(.w64, .sub, dst: .r6, .immediate(1))),
                .compare(.w64, .gt, .r6, .immediate(1000), "skip"),
                .i(.storeImmediate(.double, dst: .r10, offset: -24, imm: 1)),
                .label("skip"),
            ] + (writeEveryTime ? [] : [.i(.load(.double, dst: .r0, src: .r10, offset: -24))]) + [
                .compare(.w64, .ne, .r6, .immediate(0), "loop"),
                .label("out"),
                .i(.alu(.w64, .mov, dst: .r0, .immediate(0))), .i(.exit),
            ])
        }
        let limits = VerifierLimits(unrollLimit: 20)
        let fine = try LinkedProgram(program: Program(unbounded(writeEveryTime: true)), type: ProgramTypes.xdp,
                                     options: LoadOptions(verifierLimits: limits)).verification
        #expect(fine.gaveUp == nil && fine.proofs.stackReadsInitialized, "\(fine.log)")
        let sometimes = try LinkedProgram(program: Program(unbounded(writeEveryTime: false)), type: ProgramTypes.xdp,
                                          options: LoadOptions(verifierLimits: limits)).verification
        #expect(sometimes.gaveUp == nil && !sometimes.proofs.stackReadsInitialized, "\(sometimes.log)")
    }

    /// `*(u32 *)(r10 - 4) = 0; r2 = r10 + keyOffset; lookup(map, r2)`.
    func lookup(keyOffset: Int32) -> [Instruction] {
        [
            .storeImmediate(.word, dst: .r10, offset: -4, imm: 0),
            .alu(.w64, .mov, dst: .r2, .register(.r10)),
            .alu(.w64, .add, dst: .r2, .immediate(keyOffset)),
            .loadImmediate64(dst: .r1, .mapByIndex(0)),
            .call(.helper(1)),
            .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit,
        ]
    }

    @Test func keyOneByteTooCloseToR10() throws {
        let map = try arrayMap(valueSize: 16)
        let control = try verifyXDP(lookup(keyOffset: -4), maps: [map])
        let proof = try #require(control.proofs.helperCall(at: 5), "\(control.verification.log)")
        #expect(proof.memoryArgumentsInBounds && proof.mapHandle == map.handle)
        #expect(control.proofs.stackDepth == 4 && control.proofs.stackReadsInitialized, "\(control.verification.log)")
        let close = try verifyXDP(lookup(keyOffset: -3), maps: [map])
        let bad = try #require(close.proofs.helperCall(at: 5))
        #expect(!bad.memoryArgumentsInBounds)
        #expect(bad.mapHandle == map.handle)
        #expect(close.proofs.stackDepth == nil, "the key is not proven inside the frame")
        #expect(!close.proofs.stackReadsInitialized, "the key's last byte is outside the frame")
        #expect(close.verification.helperCallProblems[5] != nil, "\(close.verification.log)")
        // A key deeper than written: in bounds, but not initialized.
        let deep = try verifyXDP(lookup(keyOffset: -6), maps: [map])
        #expect(deep.proofs.helperCall(at: 5)?.memoryArgumentsInBounds == true)
        #expect(deep.proofs.stackDepth == 6)
        #expect(!deep.proofs.stackReadsInitialized)
    }

    @Test func updateChecksKeyAndValue() throws {
        let map = try arrayMap(valueSize: 16)
        func update(valueOffset: Int16) -> [Instruction] {
            [
                .storeImmediate(.word, dst: .r10, offset: -4, imm: 0),
                .storeImmediate(.double, dst: .r10, offset: -24, imm: 0),
                .storeImmediate(.double, dst: .r10, offset: -16, imm: 0),
                .alu(.w64, .mov, dst: .r2, .register(.r10)),
                .alu(.w64, .add, dst: .r2, .immediate(-4)),
                .alu(.w64, .mov, dst: .r3, .register(.r10)),
                .alu(.w64, .add, dst: .r3, .immediate(Int32(valueOffset))),
                .alu(.w64, .mov, dst: .r4, .immediate(0)),
                .loadImmediate64(dst: .r1, .mapByIndex(0)),
                .call(.helper(2)),
                .exit,
            ]
        }
        let control = try verifyXDP(update(valueOffset: -24), maps: [map])
        #expect(control.proofs.helperCall(at: 10)?.memoryArgumentsInBounds == true, "\(control.verification.log)")
        #expect(control.proofs.stackDepth == 24 && control.proofs.stackReadsInitialized)
        // The 16-byte value at r10 - 8 would run past r10.
        let past = try verifyXDP(update(valueOffset: -8), maps: [map])
        #expect(past.proofs.helperCall(at: 10)?.memoryArgumentsInBounds == false)
        #expect(past.proofs.stackDepth == nil)
        // At r10 - 32 its last 8 bytes are not written.
        let unwritten = try verifyXDP(update(valueOffset: -32), maps: [map])
        #expect(unwritten.proofs.helperCall(at: 10)?.memoryArgumentsInBounds == true)
        #expect(unwritten.proofs.stackDepth == 32 && !unwritten.proofs.stackReadsInitialized)
    }

    @Test func stackPointerStoredToMemory() throws {
        func program(_ stored: Register) -> [Instruction] {
            [
                .alu(.w64, .mov, dst: .r1, .immediate(3)),
                .store(.double, dst: .r10, offset: -16, src: stored),
                .load(.double, dst: .r0, src: .r10, offset: -16),
                .exit,
            ]
        }
        let control = try verifyXDP(program(.r1)).verification
        #expect(control.proofs.stackDepth == 16 && control.proofs.stackReadsInitialized, "\(control.log)")
        let escapes = try verifyXDP(program(.r10)).verification
        #expect(escapes.proofs.stackDepth == nil)
        #expect(!escapes.proofs.stackReadsInitialized)
        #expect(escapes.stackDepthProblem?.contains("stored to memory") == true, "\(escapes.log)")
        #expect(escapes.unproven.isEmpty, "the accesses themselves stay proven")
        // Arithmetic the verifier does not follow loses the pointer too.
        let lost = try verifyXDP([
            .alu(.w64, .mov, dst: .r1, .register(.r10)),
            .alu(.w64, .and, dst: .r1, .immediate(-8)),
            .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit,
        ]).verification
        #expect(lost.proofs.stackDepth == nil && !lost.proofs.stackReadsInitialized, "\(lost.log)")
        // So does a helper whose memory use is not described.
        var environment = VerifierEnvironment(context: .unknown, helpers: [99: HelperDescription(arguments: 1)])
        let undescribed = Verifier.verify(Program([
            .alu(.w64, .mov, dst: .r1, .register(.r10)), .call(.helper(99)),
            .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit,
        ]), environment: environment)
        #expect(undescribed.proofs.stackDepth == nil && !undescribed.proofs.stackReadsInitialized)
        #expect(undescribed.proofs.helperCall(at: 1)?.memoryArgumentsInBounds == false)
        environment.helpers[99] = HelperDescription(arguments: 1, memoryArguments: [])
        let number = Verifier.verify(Program([
            .alu(.w64, .mov, dst: .r1, .immediate(1)), .call(.helper(99)),
            .alu(.w64, .mov, dst: .r0, .immediate(0)), .exit,
        ]), environment: environment)
        #expect(number.proofs.stackDepth == 0 && number.proofs.stackReadsInitialized, "\(number.log)")
        #expect(number.proofs.helperCall(at: 1) == HelperCallProof(mapHandle: nil, memoryArgumentsInBounds: true))
    }

    @Test func twoMapsOnTwoPaths() throws {
        let first = try arrayMap(valueSize: 16), second = try arrayMap(valueSize: 8)
        func program(otherMap: Int32) -> [Instruction] {
            withPacketByte([
                .i(.storeImmediate(.word, dst: .r10, offset: -4, imm: 0)),
                .i(.loadImmediate64(dst: .r1, .mapByIndex(0))),
                .compare(.w64, .eq, .r4, .immediate(0), "join"),
                .i(.loadImmediate64(dst: .r1, .mapByIndex(otherMap))),
                .label("join"),
                .i(.alu(.w64, .mov, dst: .r2, .register(.r10))),
                .i(.alu(.w64, .add, dst: .r2, .immediate(-4))),
                .i(.call(.helper(1))),
            ])
        }
        let call = try #require(mapHelperCalls(Program(program(otherMap: 1))).first)
        let same = try verifyXDP(program(otherMap: 0), maps: [first, second])
        let sameProof = try #require(same.proofs.helperCall(at: call), "\(same.program.instructions)")
        #expect(sameProof.mapHandle == first.handle && sameProof.memoryArgumentsInBounds)
        let two = try verifyXDP(program(otherMap: 1), maps: [first, second])
        let twoProof = try #require(two.proofs.helperCall(at: call))
        #expect(twoProof.mapHandle == nil, "r1 is a different map on each path")
        #expect(twoProof.memoryArgumentsInBounds, "both maps have 4-byte keys")
        #expect(two.proofs.stackReadsInitialized && two.proofs.stackDepth == 4)
    }

    @Test func localCallGetsAFreshFrame() throws {
        // main: *(r10 - 8) = 1; r1 = r10 - 8; call f; exit.  f: reads its own r10 - 8, or the caller's through r1.
        func program(_ callee: [Instruction]) -> [Instruction] {
            Code.assemble([
                .i(.storeImmediate(.double, dst: .r10, offset: -8, imm: 1)),
                .i(.alu(.w64, .mov, dst: .r1, .register(.r10))),
                .i(.alu(.w64, .add, dst: .r1, .immediate(-8))),
                .call("f"),
                .i(.exit),
                .label("f"),
            ] + callee.map { .i($0) })
        }
        let own = try verifyXDP(program([.load(.double, dst: .r0, src: .r10, offset: -8), .exit])).verification
        #expect(own.unproven.isEmpty && own.proofs.terminates)
        #expect(!own.proofs.stackReadsInitialized, "the callee's frame starts with nothing written")
        #expect(own.stackReadProblem?.contains("frame 1") == true, "\(own.log)")
        #expect(own.proofs.stackDepth == 8)
        let writes = try verifyXDP(program([
            .storeImmediate(.double, dst: .r10, offset: -16, imm: 2),
            .load(.double, dst: .r0, src: .r10, offset: -16), .exit,
        ])).verification
        #expect(writes.proofs.stackReadsInitialized, "\(writes.log)")
        #expect(writes.proofs.stackDepth == 16)
        let callers = try verifyXDP(program([.load(.double, dst: .r0, src: .r1, offset: 0), .exit])).verification
        #expect(callers.proofs.stackReadsInitialized, "the caller wrote what r1 points to: \(callers.log)")
        let callersUnwritten = try verifyXDP(program([.load(.double, dst: .r0, src: .r1, offset: -8), .exit])).verification
        #expect(!callersUnwritten.proofs.stackReadsInitialized)
        #expect(callersUnwritten.stackReadProblem?.contains("frame 0") == true, "\(callersUnwritten.log)")
    }

    @Test func summaryShowsTheFacts() throws {
        let map = try arrayMap(valueSize: 16)
        let report = try verifyXDP(lookup(keyOffset: -4), maps: [map]).verification
        #expect(report.summary.contains("stack reads initialized: yes; stack depth: 4; helper calls proven: 1 of 1;"), "\(report.summary)")
        let bad = try verifyXDP(lookup(keyOffset: -3), maps: [map]).verification
        #expect(bad.summary.contains("stack reads initialized: not proven; stack depth: unknown; helper calls proven: 0 of 1;"), "\(bad.summary)")
    }
}
