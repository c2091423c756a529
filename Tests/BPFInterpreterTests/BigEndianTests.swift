import BPFInterpreter
import BPFISA
import BPFRuntime
import Testing

/// The interpreter with big-endian memory (a `bpfeb` program's semantics,
/// RFC 9669 §5 "memory is accessed in the host's byte order" on a
/// big-endian host): values worked out by hand from the bytes.
@Suite struct BigEndianTests {
    func run(_ instructions: [Instruction], memory bytes: [UInt8], order: ByteOrder) throws -> (UInt64, [UInt8]) {
        let memory = GuestMemory(bytes: bytes)
        let prepared = try Interpreter(byteOrder: order).prepare(Program(instructions), configuration: EngineConfiguration())
        let value = try prepared.run(RunInput(r1: memory.address, r2: UInt64(memory.count), regions: MemoryRegions([memory.region(.input)])))
        return (value, memory.read())
    }

    static let bytes: [UInt8] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]

    @Test func loadsReadTheFirstByteAsTheMostSignificant() throws {
        for (size, big, little) in [(AccessSize.half, UInt64(0x1122), UInt64(0x2211)), (.word, 0x1122_3344, 0x4433_2211),
                                    (.double, 0x1122_3344_5566_7788, 0x8877_6655_4433_2211)] {
            let program: [Instruction] = [.load(size, dst: .r0, src: .r1, offset: 0), .exit]
            #expect(try run(program, memory: Self.bytes, order: .big).0 == big)
            #expect(try run(program, memory: Self.bytes, order: .little).0 == little)
        }
        // Sign extension reads the same first byte as the sign.
        let signed: [Instruction] = [.loadSignExtend(.half, dst: .r0, src: .r1, offset: 6), .exit]
        #expect(try run(signed, memory: Self.bytes, order: .big).0 == 0x7788)
        #expect(try run(signed, memory: Self.bytes, order: .little).0 == UInt64(bitPattern: Int64(Int16(bitPattern: 0x8877))))
    }

    @Test func storesWriteTheMostSignificantByteFirst() throws {
        let program: [Instruction] = [.loadImmediate64(dst: .r2, .value(0x0102_0304_0506_0708)),
                                      .store(.double, dst: .r1, offset: 0, src: .r2), .mov0, .exit]
        #expect(try run(program, memory: Array(repeating: 0, count: 8), order: .big).1 == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(try run(program, memory: Array(repeating: 0, count: 8), order: .little).1 == [8, 7, 6, 5, 4, 3, 2, 1])
        let half: [Instruction] = [.storeImmediate(.half, dst: .r1, offset: 2, imm: 0x0a0b), .mov0, .exit]
        #expect(try run(half, memory: [0, 0, 0, 0], order: .big).1 == [0, 0, 0x0a, 0x0b])
    }

    @Test func endianConversionsAreRelativeToTheMemoryOrder() throws {
        let value: UInt64 = 0x1122_3344_5566_7788
        for (kind, bits, onBig) in [(ByteSwapKind.toLittleEndian, UInt8(16), UInt64(0x8877)), (.toBigEndian, 16, 0x7788),
                                    (.toLittleEndian, 32, 0x8877_6655), (.toBigEndian, 32, 0x5566_7788),
                                    (.toLittleEndian, 64, 0x8877_6655_4433_2211), (.toBigEndian, 64, value),
                                    (.swap, 16, 0x8877)] {
            let program: [Instruction] = [.loadImmediate64(dst: .r0, .value(value)), .byteSwap(kind, dst: .r0, bits: bits), .exit]
            #expect(try run(program, memory: [], order: .big).0 == onBig, "\(kind) \(bits)")
        }
    }

    @Test func atomicsWorkOnBigEndianWords() throws {
        // 0x11223344 + 0x01000001 = 0x12223345, stored big-endian; the fetch returns the old value.
        let add: [Instruction] = [.alu(.w64, .mov, dst: .r2, .immediate(0x0100_0001)),
                                  .atomic(.w32, .add(fetch: true), dst: .r1, offset: 0, src: .r2),
                                  .alu(.w64, .mov, dst: .r0, .register(.r2)), .exit]
        let (old, after) = try run(add, memory: Self.bytes, order: .big)
        #expect(old == 0x1122_3344)
        #expect(after == [0x12, 0x22, 0x33, 0x45, 0x55, 0x66, 0x77, 0x88])
        // A carry across bytes in 64 bits: 0x...88 + 0x78 = 0x...0100.
        let add64: [Instruction] = [.alu(.w64, .mov, dst: .r2, .immediate(0x78)),
                                    .atomic(.w64, .add(fetch: false), dst: .r1, offset: 0, src: .r2), .mov0, .exit]
        #expect(try run(add64, memory: Self.bytes, order: .big).1 == [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x78, 0x00])
        // Compare-exchange compares values, not stored bytes.
        let cmpxchg: [Instruction] = [.alu(.w64, .mov, dst: .r0, .immediate(0x1122_3344)), .alu(.w64, .mov, dst: .r2, .immediate(7)),
                                      .atomic(.w32, .cmpxchg, dst: .r1, offset: 0, src: .r2), .exit]
        let (seen, swapped) = try run(cmpxchg, memory: Self.bytes, order: .big)
        #expect(seen == 0x1122_3344)
        #expect(swapped.prefix(4) == [0, 0, 0, 7])
    }
}

extension Instruction {
    fileprivate static var mov0: Instruction { .alu(.w64, .mov, dst: .r0, .immediate(0)) }
}
