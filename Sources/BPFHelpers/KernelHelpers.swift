import BPFMaps
import BPFRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The kernel's helpers, implemented over BPFKit's maps and program types.
public enum KernelHelpers {
    /// Every kernel helper BPFKit has, working on `environment`'s maps.
    /// Embedders `merge` their own helpers into the result (by number).
    public static func registry(_ environment: HelperEnvironment = HelperEnvironment()) -> HelperRegistry {
        HelperRegistry(mapHelpers(environment) + ringBufferHelpers(environment) + xdpHelpers() + skbHelpers() + redirectHelpers(environment) + fibHelpers(environment)
                       + basicHelpers(environment) + [CallbackInlining.mapIterationHelper(environment)])
    }

    /// A `Helper` whose number, name and prototype come from the table.
    static func helper(_ kind: KernelHelper, native: NativeHelper? = nil,
                       proven: (@Sendable (UInt64) -> ProvenHelperCall?)? = nil, _ body: @escaping Helper.Body) -> Helper {
        Helper(id: kind.rawValue, name: kind.name, prototype: kind.prototype, native: native, proven: proven, body: body)
    }

    static func clock(_ id: clockid_t) -> UInt64 {
        var ts = timespec()
        clock_gettime(id, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func basicHelpers(_ env: HelperEnvironment) -> [Helper] {
        [
            helper(.ktimeGetNs, native: NativeHelper(NativeEntries.ktimeGetNs)) { _ in clock(CLOCK_MONOTONIC) },
            helper(.ktimeGetBootNs) { _ in
                #if os(Linux)
                clock(CLOCK_BOOTTIME)
                #else
                clock(CLOCK_MONOTONIC)
                #endif
            },
            helper(.ktimeGetCoarseNs) { _ in
                #if os(Linux)
                clock(CLOCK_MONOTONIC_COARSE)
                #else
                clock(CLOCK_MONOTONIC)
                #endif
            },
            helper(.getPrandomU32) { _ in
                var generator = SystemRandomNumberGenerator()
                return UInt64(UInt32.random(in: .min ... .max, using: &generator))
            },
            helper(.getSmpProcessorID, native: NativeHelper(NativeEntries.smpProcessorID)) { _ in UInt64(CPUSlots.current) },
            helper(.tailCall) { _ throws(HelperError) in
                // A tail call replaces the caller's frame, which only an engine can do:
                // engines given a `TailCallEnvironment` (every program the loader links)
                // run `call 12` themselves and never reach this body. It is here for the
                // number, name and prototype, and for engines run without the environment.
                throw HelperError("bpf_tail_call: the engine runs tail calls itself, given the program arrays (EngineConfiguration.tailCalls); this program was prepared without them")
            },
            helper(.csumDiff) { call throws(HelperError) in
                let fromSize = Int(UInt32(truncatingIfNeeded: call.argument(2)))
                let toSize = Int(UInt32(truncatingIfNeeded: call.argument(4)))
                guard fromSize <= InternetChecksum.maxBufferSize, toSize <= InternetChecksum.maxBufferSize else {
                    return Errno.result(Errno.EINVAL)
                }
                let from = fromSize == 0 ? [] : try call.memory.read(at: call.argument(1), count: fromSize)
                let to = toSize == 0 ? [] : try call.memory.read(at: call.argument(3), count: toSize)
                return UInt64(InternetChecksum.difference(from: from, to: to, seed: UInt32(truncatingIfNeeded: call.argument(5)),
                                                          byteOrder: call.memory.byteOrder))
            },
            helper(.tracePrintk) { call throws(HelperError) in
                let size = Int(UInt32(truncatingIfNeeded: call.argument(2)))
                guard size > 0, size <= 1024 else { return Errno.result(Errno.EINVAL) }
                let format = try call.memory.read(at: call.argument(1), count: size)
                // The format must be NUL-terminated within its size.
                guard let end = format.firstIndex(of: 0) else { return Errno.result(Errno.EINVAL) }
                let memory = call.memory
                guard let message = TraceFormat.format(Array(format[..<end]), arguments: [call.argument(3), call.argument(4), call.argument(5)],
                                                       readString: { memory.readCString(at: $0, limit: TraceFormat.maxStringLength) }) else {
                    return Errno.result(Errno.EINVAL)
                }
                env.trace(message)
                return UInt64(message.utf8.count)
            },
        ]
    }
}
