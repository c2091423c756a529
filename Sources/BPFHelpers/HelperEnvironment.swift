import BPFMaps
import BPFRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What the kernel helpers of one loaded object work with: its maps and
/// where `bpf_trace_printk` output goes.
public struct HelperEnvironment: Sendable {
    public var maps: MapTable
    /// Receives each `bpf_trace_printk` message (without a trailing newline added).
    public var trace: @Sendable (String) -> Void
    /// The routes, interfaces and neighbours `bpf_fib_lookup` consults (nil:
    /// none, so every lookup finds no route, `BPF_FIB_LKUP_RET_NOT_FWDED`).
    public var fib: FIBTable?

    public init(maps: MapTable = MapTable([]), trace: @escaping @Sendable (String) -> Void = HelperEnvironment.standardError,
                fib: FIBTable? = nil) {
        self.maps = maps
        self.trace = trace
        self.fib = fib
    }

    /// The default trace sink: one line per message on standard error, like `trace_pipe` shows them.
    public static let standardError: @Sendable (String) -> Void = { message in
        let line = message.hasSuffix("\n") ? message : message + "\n"
        let bytes = Array(line.utf8)
        bytes.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
    }

    /// The map behind a handle a program passed, or a helper error naming the argument.
    func map(_ handle: UInt64, argument: Int, of helper: KernelHelper) throws(HelperError) -> any BPFMap {
        guard let map = maps.map(handle: handle) else {
            throw HelperError("\(helper.name): argument \(argument) (0x\(String(handle, radix: 16))) is not a map of this program")
        }
        return map
    }
}
