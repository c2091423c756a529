import BPFEmulator
import BPFISA
import BPFRuntime
import Synchronization

/// Assembling, loading and inspecting test programs.
enum Harness {
    static func machine(_ architecture: EmulatedArchitecture, helpers: [Helper] = []) throws -> EmulatedMachine {
        try EmulatedMachine(architecture: architecture, helpers: HelperRegistry(helpers))
    }

    /// Assembles `source` and loads it at a reserved address.
    static func program(
        _ source: String, on machine: EmulatedMachine, placement: ImagePlacement = .nearHelpers,
        pcMap: NativePCMap? = nil, instructionLimit: UInt64 = 1_000_000
    ) throws -> EmulatedProgram {
        let bytes = try TargetAssembler.assemble(source, for: machine.architecture)
        let reservation = try machine.reserveImage(size: bytes.count, placement: placement)
        return try machine.load(image: bytes, in: reservation, pcMap: pcMap, instructionLimit: instructionLimit)
    }

    /// The error a run threw, or nil when it succeeded.
    static func error(of body: () throws(ExecutionError) -> EmulatedRun) -> ExecutionError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error
        }
    }

    /// `value` as 4 bytes in a byte order.
    static func bytes(_ value: UInt32, _ order: ByteOrder) -> [UInt8] {
        let ordered = order == .big ? value.bigEndian : value.littleEndian
        return withUnsafeBytes(of: ordered) { Array($0) }
    }

    /// The 4 bytes at `offset` read in a byte order.
    static func word(_ memory: GuestMemory, at offset: Int, _ order: ByteOrder) -> UInt32 {
        let raw = memory.load(UInt32.self, at: offset)
        return order == .big ? UInt32(bigEndian: raw) : UInt32(littleEndian: raw)
    }
}

/// Arguments a helper saw, recorded for the test to inspect.
final class CallLog: Sendable {
    private let calls = Mutex<[[UInt64]]>([])

    func record(_ call: borrowing HelperCall) {
        let arguments = (1...5).map { call.argument($0) }
        calls.withLock { $0.append(arguments) }
    }

    var all: [[UInt64]] { calls.withLock { $0 } }
}
