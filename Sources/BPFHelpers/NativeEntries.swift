import BPFMaps
import BPFRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Native entries (`NativeHelper`) of the kernel helpers programs call in
/// their hot paths, for JITs to call directly. Each does the common case on
/// raw memory (the map found in a `NativeMapTable`, key and value on the
/// BPF stack) and hands everything else to the frame's fallback, which runs
/// the helper's `body` with every check: the results are the body's.
enum NativeEntries {
    /// `bpf_map_lookup_elem(map, key)`.
    static let mapLookup: NativeHelper.Function = { map, key, a3, a4, a5, raw, data in
        let frame = NativeHelperFrame.at(raw)
        if let entry = NativeMapTable.entry(data, handle: map), frame.pointee.inStack(key, count: entry.pointee.keySize),
           let pointer = UnsafeRawPointer(bitPattern: UInt(key)), let value = NativeMapTable.lookup(entry, key: pointer) {
            return value
        }
        return frame.fallBack(map, key, a3, a4, a5)
    }

    /// `bpf_map_update_elem(map, key, value, flags)`.
    static let mapUpdate: NativeHelper.Function = { map, key, value, flags, a5, raw, data in
        let frame = NativeHelperFrame.at(raw)
        if let entry = NativeMapTable.entry(data, handle: map), frame.pointee.inStack(key, count: entry.pointee.keySize),
           frame.pointee.inStack(value, count: entry.pointee.valueSize),
           let k = UnsafeRawPointer(bitPattern: UInt(key)), let v = UnsafeRawPointer(bitPattern: UInt(value)) {
            do throws(MapError) {
                if try NativeMapTable.update(entry, key: k, value: v, flags: flags) { return 0 }
            } catch {
                return Errno.result(error.errno)
            }
        }
        return frame.fallBack(map, key, value, flags, a5)
    }

    /// `bpf_map_delete_elem(map, key)`.
    static let mapDelete: NativeHelper.Function = { map, key, a3, a4, a5, raw, data in
        let frame = NativeHelperFrame.at(raw)
        if let entry = NativeMapTable.entry(data, handle: map), frame.pointee.inStack(key, count: entry.pointee.keySize),
           let k = UnsafeRawPointer(bitPattern: UInt(key)) {
            do throws(MapError) {
                if try NativeMapTable.delete(entry, key: k) { return 0 }
            } catch {
                return Errno.result(error.errno)
            }
        }
        return frame.fallBack(map, key, a3, a4, a5)
    }

    /// `bpf_ktime_get_ns()`.
    static let ktimeGetNs: NativeHelper.Function = { _, _, _, _, _, _, _ in KernelHelpers.clock(CLOCK_MONOTONIC) }

    /// `bpf_get_smp_processor_id()`.
    static let smpProcessorID: NativeHelper.Function = { _, _, _, _, _, _, _ in UInt64(CPUSlots.current) }
}
