import BPFISA
import BPFJIT
import BPFRuntime
import BPFTestSuite
import Testing

/// Constant blinding (`JITBlinding`, `EngineConfiguration.hardened`) as
/// every backend must keep it: no chosen constant in a hardened image, the
/// interpreter's results, and faults named in the program's own numbering.
/// Each backend's `HardeningTests` runs these with its hardened row and says
/// how its code carries constants; it keeps only what is its own.
public struct HardeningChecks: Sendable {
    /// The hardened configurations (`HardenedEngine`) and their interpreter.
    public let row: BackendRow
    /// The image the backend compiles for a program, plain or hardened.
    public let image: @Sendable (Program, _ hardened: Bool) throws -> JITImage

    public init(row: BackendRow, image: @escaping @Sendable (Program, _ hardened: Bool) throws -> JITImage) {
        self.row = row
        self.image = image
    }

    /// An image's 32-bit words in the given byte order.
    public static func words(_ bytes: [UInt8], bigEndian: Bool = false) -> [UInt32] {
        stride(from: 0, to: bytes.count - 3, by: 4).map { k in
            let word = UInt32(bytes[k]) | UInt32(bytes[k + 1]) << 8 | UInt32(bytes[k + 2]) << 16 | UInt32(bytes[k + 3]) << 24
            return bigEndian ? word.byteSwapped : word
        }
    }

    /// A constant's two 16-bit halves, as move-wide and `lui`/`ori` pairs carry them.
    public static func halves(_ constant: UInt32) -> [UInt32] { [constant & 0xffff, constant >> 16] }

    /// The spray program's constants in the plain image and in no hardened
    /// one. `pieces` says what the plain code carries for a constant (the
    /// whole word, its halves, a `lui` part); `immediates` reads those
    /// pieces back out of an image's instructions. Constants at the indices
    /// `builtOtherwise` may be built another way in the plain image.
    ///
    /// Each hardened compile draws its own key: no whole constant may appear
    /// in any hardened image (in either byte order where `bothByteOrders`),
    /// and a piece may match a blinded immediate by chance, never in three
    /// images with independent keys, as one the code planted would.
    public func sprayedConstantsAreInThePlainImageOnly(pieces: (UInt32) -> [UInt32], immediates: ([UInt8]) -> Set<UInt32>,
                                                       builtOtherwise: Set<Int> = [], bothByteOrders: Bool = false) throws {
        let program = SprayPrograms.program()
        let constants = SprayPrograms.constants()
        let plain = immediates(try image(program, false).bytes)
        for (k, constant) in constants.enumerated() where !builtOtherwise.contains(k) {
            for piece in pieces(constant) {
                #expect(plain.contains(piece), "plain image lacks 0x\(String(piece, radix: 16)) of constant \(k)")
            }
        }
        var inEvery = Set(constants.flatMap(pieces))
        for _ in 0..<3 {
            let hardened = try image(program, true)
            #expect(hardened.instructionCount == program.count)
            for constant in constants {
                let found = containsWord(hardened.bytes, constant) || (bothByteOrders && containsWord(hardened.bytes, constant.byteSwapped))
                #expect(!found, "hardened image holds 0x\(String(constant, radix: 16))")
            }
            inEvery.formIntersection(immediates(hardened.bytes))
        }
        #expect(inEvery.isEmpty, "pieces in every hardened image: \(inEvery.map { String($0, radix: 16) })")
    }

    /// Every 32-bit word at every byte offset of an image: what a backend
    /// with whole 32-bit immediates carries.
    public static func everyWord(_ bytes: [UInt8]) -> Set<UInt32> {
        guard bytes.count >= 4 else { return [] }
        return Set((0...(bytes.count - 4)).map {
            UInt32(bytes[$0]) | UInt32(bytes[$0 + 1]) << 8 | UInt32(bytes[$0 + 2]) << 16 | UInt32(bytes[$0 + 3]) << 24
        })
    }

    /// The spray program (a store through r1 that keeps its bounds check,
    /// a host call with the auxiliary register live across it) gives the
    /// interpreter's result on every hardened configuration, `runs` times
    /// (each compile its own key).
    public func blindedSprayAgreesWithTheInterpreter(runs: Int = 1) {
        let program = SprayPrograms.program()
        let memory = [UInt8](repeating: 0, count: SprayPrograms.memorySize)
        let reference = outcome(program, memory: memory, on: row.reference, limit: 10_000)
        guard case .value = reference else {
            Issue.record("interpreter: \(reference)")
            return
        }
        for (label, engine) in row.configurations {
            for _ in 0..<runs {
                let got = outcome(program, memory: memory, on: engine, limit: 10_000)
                #expect(got == reference, "\(label): \(got), interpreter \(reference)")
            }
        }
    }

    /// A program whose slot 6 faults after blinded instructions (a
    /// constant move, a stored immediate, a 64-bit constant, a compare with
    /// an immediate, an add of one), by a load and by a store.
    public static func faultingPrograms() -> [Program] {
        [Instruction.load(.word, dst: .r0, src: .r1, offset: 0), .storeImmediate(.word, dst: .r1, offset: 0, imm: 0x3a5c_1d27)].map {
            Program([
                .alu(.w64, .mov, dst: .r0, .immediate(0x1234_5678)),
                .storeImmediate(.word, dst: .r10, offset: -8, imm: 0x0bad_cafe),
                .loadImmediate64(dst: .r2, .value(0x1122_3344_5566_7788)),
                .immediate64Tail,
                .branch(.w64, .eq, dst: .r0, .immediate(7), offset: 1),
                .alu(.w64, .add, dst: .r1, .immediate(0x10_0000)),
                $0,                                                       // slot 6: out of bounds
                .exit,
            ])
        }
    }

    /// A fault after blinded instructions names the original instruction,
    /// as the interpreter does, on every hardened configuration.
    public func errorsNameTheOriginalInstruction() {
        for program in Self.faultingPrograms() {
            let reference = outcome(program, memory: [0, 0, 0, 0], on: row.reference)
            for (label, engine) in row.configurations {
                let hardened = outcome(program, memory: [0, 0, 0, 0], on: engine)
                guard case .failure(let error) = hardened, case .failure(let expected) = reference else {
                    Issue.record("\(label): expected a fault, got \(hardened) (interpreter \(reference))")
                    continue
                }
                #expect(error.pc == 6 && expected.pc == 6, "\(label): \(error), interpreter \(expected)")
            }
        }
    }
}
