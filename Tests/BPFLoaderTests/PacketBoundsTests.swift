import BPFHelpers
import BPFISA
import BPFLoader
import BPFRuntime
import Testing

/// The XDP packet is checked inline by both engines at its live bounds
/// (`RunInput.dynamicRegion`); these tests pin that it admits exactly what
/// the resolver (`XDPFrame.permits`) admits, before and after the adjust
/// helpers move the packet's ends, with the same errors on every engine.
@Suite struct PacketBoundsTests {
    enum Field: Int16 { case data = 0, dataEnd = 4, dataMeta = 8 }

    /// What a run gives, with a bounds error's address made relative to the
    /// final `data_end`, so that runs on different frames compare equal.
    enum Outcome: Equatable {
        case value(UInt64, [UInt8])
        case outOfBounds(pc: Int, fromEnd: Int64, size: Int, write: Bool)
        case other(ExecutionError)
    }

    static let packet: [UInt8] = (0..<64).map { UInt8($0) }

    /// The optional adjust call (`r7 = result`), leaving the context in r6.
    static func prologue(_ adjust: (KernelHelper, Int32)?) -> [Instruction] {
        var code: [Instruction] = [.alu(.w64, .mov, dst: .r6, .register(.r1)), .alu(.w64, .mov, dst: .r7, .immediate(0))]
        if let (helper, delta) = adjust {
            code += [.alu(.w64, .mov, dst: .r2, .immediate(delta)), .call(.helper(helper.rawValue)),
                     .alu(.w64, .mov, dst: .r7, .register(.r0))]
        }
        return code
    }

    /// One access of `size` bytes at `field + offset`; returns the program and the access's pc.
    static func access(_ adjust: (KernelHelper, Int32)?, _ field: Field, _ offset: Int32, _ size: AccessSize,
                       write: Bool) -> (Program, Int) {
        var code = prologue(adjust)
        code += [.load(.word, dst: .r2, src: .r6, offset: field.rawValue), .alu(.w64, .add, dst: .r2, .immediate(offset))]
        let pc = code.count
        code.append(write ? .storeImmediate(size, dst: .r2, offset: 0, imm: 0x5a) : .load(size, dst: .r3, src: .r2, offset: 0))
        code += [.alu(.w64, .mov, dst: .r0, .register(.r7)), .exit]
        return (Program(code), pc)
    }

    /// Reads and increments every byte from `field` to `data_end`.
    static func everyByte(_ adjust: (KernelHelper, Int32)?, from field: Field) -> Program {
        Program(prologue(adjust) + [
            .load(.word, dst: .r2, src: .r6, offset: field.rawValue),
            .load(.word, dst: .r3, src: .r6, offset: Field.dataEnd.rawValue),
            .branch(.w64, .ge, dst: .r2, .register(.r3), offset: 5),
            .load(.byte, dst: .r4, src: .r2, offset: 0),
            .alu(.w64, .add, dst: .r4, .immediate(1)),
            .store(.byte, dst: .r2, offset: 0, src: .r4),
            .alu(.w64, .add, dst: .r2, .immediate(1)),
            .jump(offset: -6),
            .alu(.w64, .mov, dst: .r0, .register(.r7)),
            .exit,
        ])
    }

    /// Runs on `engine`, with the dynamic region (the engines' fast check) or
    /// without it (the resolver alone: what every engine did before).
    static func outcome(_ program: Program, on engine: any ExecutionEngine, dynamic: Bool) throws -> Outcome {
        let linked = try LinkedProgram(program: program, type: ProgramTypes.xdp)
        let prepared = try engine.prepare(linked.program, configuration: linked.engineConfiguration())
        let run = try linked.makeRun(input: packet)
        var input = run.input
        #expect(input.dynamicRegion != nil)
        if !dynamic { input.dynamicRegion = nil }
        do throws(ExecutionError) {
            let value = try prepared.run(input)
            return .value(value, run.output())
        } catch {
            guard case .outOfBounds(let pc, let address, let size, let write) = error else { return .other(error) }
            let end = try MemoryAccess(regions: input.regions).load(UInt64.self, at: input.r1 + UInt64(XDPContext.dataEnd))
            return .outOfBounds(pc: pc, fromEnd: Int64(bitPattern: address &- end), size: size, write: write)
        }
    }

    /// The outcome every engine, with and without the dynamic region, agrees on.
    static func agreed(_ program: Program) throws -> Outcome {
        let reference = try outcome(program, on: engines[0], dynamic: false)
        for engine in engines {
            for dynamic in [true, false] {
                #expect(try outcome(program, on: engine, dynamic: dynamic) == reference, "\(engine.name), dynamic: \(dynamic)")
            }
        }
        return reference
    }

    static let adjustments: [(KernelHelper, Int32)?] = [
        nil, (.xdpAdjustHead, -8), (.xdpAdjustHead, 8), (.xdpAdjustTail, 16), (.xdpAdjustTail, -16), (.xdpAdjustMeta, -8),
    ]

    @Test func enginesUseTheDynamicRegion() {
        #expect(engines.count == 2, "the interpreter and the JIT")
    }

    @Test(arguments: 0..<adjustments.count)
    func everyByteOfThePacket(_ index: Int) throws {
        let adjust = Self.adjustments[index]
        for field in [Field.data, .dataMeta] {
            guard case .value(let value, let output) = try Self.agreed(Self.everyByte(adjust, from: field)) else {
                Issue.record("\(String(describing: adjust)) from \(field) failed"); continue
            }
            #expect(value == 0)
            if adjust == nil { #expect(output == Self.packet.map { $0 &+ 1 }) }
        }
    }

    @Test(arguments: 0..<adjustments.count)
    func edgesOfThePacket(_ index: Int) throws {
        let adjust = Self.adjustments[index]
        let metaMoved = adjust?.0 == .xdpAdjustMeta
        for size in AccessSize.allCases {
            for write in [false, true] {
                let n = Int32(size.bytes)
                // (field, offset, admitted)
                let cases: [(Field, Int32, Bool)] = [
                    (.data, 0, true), (.dataEnd, -n, true),
                    (.dataEnd, -n + 1, false), (.dataEnd, 0, false), (.dataEnd, 4096, false),
                    (.data, -1, metaMoved), (.data, -n, metaMoved), (.data, -9, false),
                    (.dataMeta, 0, true), (.dataMeta, -1, false),
                ]
                for (field, offset, admitted) in cases {
                    let (program, pc) = Self.access(adjust, field, offset, size, write: write)
                    let outcome = try Self.agreed(program)
                    let label = "\(String(describing: adjust)) \(field)\(offset) \(size) write: \(write)"
                    if admitted {
                        guard case .value(0, _) = outcome else { Issue.record("\(label): \(outcome)"); continue }
                    } else {
                        guard case .outOfBounds(pc, _, size.bytes, write) = outcome else { Issue.record("\(label): \(outcome)"); continue }
                    }
                }
            }
        }
    }
}
