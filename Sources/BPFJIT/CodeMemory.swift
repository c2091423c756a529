/// Executable memory as the JIT core needs it: the program-pack contract.
///
/// `allocate` hands out the final executable address before a byte is
/// written, the backend assembles an ordinary `[UInt8]` against it, `copy`
/// moves it into place (the write-xor-execute copy step, with instruction
/// cache maintenance), `free` gives the room back, and `patch` replaces at
/// most eight bytes within one aligned 8-byte word of a live image (tail-call
/// sites, later). BPFExecMemory's `ProgramPack` satisfies it through a small
/// adapter; tests substitute their own.
public protocol CodeMemory: AnyObject, Sendable {
    func allocate(size: Int, alignment: Int) throws(CodeMemoryError) -> CodeAllocation
    func copy(_ bytes: [UInt8], into allocation: CodeAllocation) throws(CodeMemoryError)
    func free(_ allocation: CodeAllocation)
    func patch(_ allocation: CodeAllocation, at offset: Int, bytes: [UInt8]) throws(CodeMemoryError)
}

/// Room for one image in some `CodeMemory`.
public struct CodeAllocation: Sendable {
    /// First byte of the image: where it will run.
    public let address: UInt
    /// Bytes reserved.
    public let size: Int
    /// Whatever the memory needs to recognise the allocation again.
    public let token: any Sendable

    public init(address: UInt, size: Int, token: any Sendable) {
        self.address = address
        self.size = size
        self.token = token
    }
}

/// A failure of the executable-memory layer, as the JIT reports it.
public struct CodeMemoryError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
