import BPFISA
import BPFRuntime

/// A routine a backend's generated code calls like a helper but that is not
/// a BPF helper: what a 32-bit backend needs for 64-bit division and modulo
/// or 64-bit atomics, which its CPU cannot do in a few instructions.
///
/// Natively such a call goes to a C function (the kernel's `jit_udiv64`...);
/// in emulation it goes, like a helper call, through a trampoline slot to a
/// Swift closure. Arguments arrive as 64-bit values under the architecture's
/// convention (the first `argumentCount` of its argument locations). A
/// failure stops the run with `ExecutionError.helperFailed` naming the call
/// site, helper id -1 and the routine's name.
public struct RuntimeCall: Sendable {
    public typealias Body = @Sendable (borrowing RuntimeCallContext) throws(HelperError) -> UInt64

    /// Identifies the routine: one trampoline slot per name and machine.
    public var name: String
    /// How many of the five argument locations it reads (0–5).
    public var argumentCount: Int
    public var body: Body

    public init(name: String, argumentCount: Int, body: @escaping Body) {
        precondition((0...5).contains(argumentCount), "a runtime call takes at most five arguments")
        self.name = name
        self.argumentCount = argumentCount
        self.body = body
    }
}

/// One runtime call: its arguments and the program's memory as the
/// emulated CPU sees it.
public struct RuntimeCallContext: ~Copyable {
    /// Arguments one to `argumentCount`, as 64-bit values.
    public let arguments: [UInt64]
    public let memory: TargetMemory

    init(arguments: [UInt64], memory: TargetMemory) {
        self.arguments = arguments
        self.memory = memory
    }

    /// Argument `i`, counted from 1 as in r1–r5.
    public func argument(_ i: Int) -> UInt64 { arguments[i - 1] }
}

/// The program's memory addressed as emulated code addresses it: by guest
/// address, in the target's byte order, every access checked against the
/// run's regions (and the stack).
///
/// Host memory is authoritative while a call runs (the machine copies the
/// program's writes out before the call and reads memory back after it), so
/// a value stored here is what the program sees when the call returns.
public struct TargetMemory: Sendable {
    public let byteOrder: ByteOrder
    public let addressSpace: GuestAddressSpace
    /// Checked access by host address: what helpers get as `HelperCall.memory`.
    public let host: MemoryAccess

    init(byteOrder: ByteOrder, addressSpace: GuestAddressSpace, host: MemoryAccess) {
        self.byteOrder = byteOrder
        self.addressSpace = addressSpace
        self.host = host
    }

    /// The host address behind a guest address, or nil when none is mapped there.
    public func hostAddress(forGuest guest: UInt64) -> UInt64? { addressSpace.hostAddress(forGuest: guest) }

    /// Reads an integer stored in the target's byte order.
    public func load<T: FixedWidthInteger>(_: T.Type, at guest: UInt64) throws(HelperError) -> T {
        let raw = try host.load(T.self, at: try translate(guest))
        return byteOrder == .big ? T(bigEndian: raw) : T(littleEndian: raw)
    }

    /// Writes an integer in the target's byte order.
    public func store<T: FixedWidthInteger>(_ value: T, at guest: UInt64) throws(HelperError) {
        try host.store(byteOrder == .big ? value.bigEndian : value.littleEndian, at: try translate(guest))
    }

    private func translate(_ guest: UInt64) throws(HelperError) -> UInt64 {
        guard let address = addressSpace.hostAddress(forGuest: guest) else {
            throw HelperError("guest address 0x\(String(guest, radix: 16)) is outside the program's memory")
        }
        return address
    }
}
