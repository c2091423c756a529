import BPFMaps
import BPFRuntime

/// Map and ring-buffer helpers: they resolve the map handle a program passes
/// (a rewritten 64-bit map load), then work on key and value bytes in place.
extension KernelHelpers {
    static func mapHelpers(_ env: HelperEnvironment) -> [Helper] {
        let table = NativeMapTable(env.maps)
        func native(_ function: NativeHelper.Function) -> NativeHelper {
            NativeHelper(function, data: table.address, owner: table)
        }
        let maps = env.maps
        func proven(_ operation: ProvenMapEntries.Operation) -> @Sendable (UInt64) -> ProvenHelperCall? {
            { handle in maps.map(handle: handle).flatMap { ProvenMapEntries.call(operation, map: $0) } }
        }
        var lookup = helper(.mapLookupElem, native: native(NativeEntries.mapLookup), proven: proven(.lookup)) { call throws(HelperError) in
            let map = try env.map(call.argument(1), argument: 1, of: .mapLookupElem)
            if map.definition.type == .cpuMap || map.definition.type == .perfEventArray { throw refused(.mapLookupElem, map) }
            return try call.memory.withBytes(at: call.argument(2), count: map.definition.keySize, write: false) { key in
                map.programLookup(key: UnsafeRawBufferPointer(key))
            }
        }
        // A lookup in a map of maps gives an inner map's handle, not memory.
        lookup.resultIsMapHandle = { r1 in maps.map(handle: r1)?.definition.type.isMapOfMaps ?? false }
        return [
            lookup,
            helper(.mapUpdateElem, native: native(NativeEntries.mapUpdate), proven: proven(.update)) { call throws(HelperError) in
                let map = try env.map(call.argument(1), argument: 1, of: .mapUpdateElem)
                guard map.definition.type.programsMayUpdate else { throw refused(.mapUpdateElem, map) }
                let flags = call.argument(4)
                return try call.memory.withBytes(at: call.argument(2), count: map.definition.keySize, write: false) { key throws(HelperError) in
                    try call.memory.withBytes(at: call.argument(3), count: map.definition.valueSize, write: false) { value in
                        errnoResult { () throws(MapError) in
                            try map.programUpdate(key: UnsafeRawBufferPointer(key), value: UnsafeRawBufferPointer(value), flags: flags)
                        }
                    }
                }
            },
            helper(.mapDeleteElem, native: native(NativeEntries.mapDelete), proven: proven(.delete)) { call throws(HelperError) in
                let map = try env.map(call.argument(1), argument: 1, of: .mapDeleteElem)
                guard map.definition.type.programsMayUpdate else { throw refused(.mapDeleteElem, map) }
                return try call.memory.withBytes(at: call.argument(2), count: map.definition.keySize, write: false) { key in
                    errnoResult { () throws(MapError) in try map.programDelete(key: UnsafeRawBufferPointer(key)) }
                }
            },
            helper(.mapLookupPercpuElem) { call throws(HelperError) in
                let map = try env.map(call.argument(1), argument: 1, of: .mapLookupPercpuElem)
                let cpu = Int(UInt32(truncatingIfNeeded: call.argument(3)))
                guard map.definition.type.isPerCPU, cpu < CPUSlots.count else { return 0 }
                return try call.memory.withBytes(at: call.argument(2), count: map.definition.keySize, write: false) { key in
                    CPUSlots.withSlot(cpu) { map.programLookup(key: UnsafeRawBufferPointer(key)) }
                }
            },
        ]
    }

    static func ringBufferHelpers(_ env: HelperEnvironment) -> [Helper] {
        @Sendable func ring(_ handle: UInt64, _ helper: KernelHelper) throws(HelperError) -> RingBuffer {
            guard let ring = try env.map(handle, argument: 1, of: helper) as? RingBuffer else {
                throw HelperError("\(helper.name): argument 1 is not a ring buffer map")
            }
            return ring
        }
        /// The ring holding a record address (submit and discard get only the address).
        @Sendable func finish(_ call: borrowing HelperCall, discard: Bool, _ helper: KernelHelper) throws(HelperError) -> UInt64 {
            let address = call.argument(1)
            for map in env.maps.maps {
                if let ring = map as? RingBuffer, ring.finish(address, discard: discard) { return 0 }
            }
            throw HelperError("\(helper.name): 0x\(String(address, radix: 16)) is not a reserved, unsubmitted ring buffer record")
        }
        return [
            helper(.ringbufOutput) { call throws(HelperError) in
                let ring = try ring(call.argument(1), .ringbufOutput)
                guard call.argument(4) & ~RingBuffer.wakeupFlags == 0 else { return Errno.result(Errno.EINVAL) }
                let size = Int(clamping: call.argument(3))
                guard size <= ring.size else { return Errno.result(Errno.EAGAIN) }
                return try call.memory.withBytes(at: call.argument(2), count: size, write: false) { data in
                    errnoResult { () throws(MapError) in try ring.output(UnsafeRawBufferPointer(data)) }
                }
            },
            helper(.ringbufReserve) { call throws(HelperError) in
                let ring = try ring(call.argument(1), .ringbufReserve)
                guard call.argument(3) == 0 else { return 0 }
                return ring.reserve(Int(clamping: call.argument(2))) ?? 0
            },
            helper(.ringbufSubmit) { call throws(HelperError) in try finish(call, discard: false, .ringbufSubmit) },
            helper(.ringbufDiscard) { call throws(HelperError) in try finish(call, discard: true, .ringbufDiscard) },
            helper(.perfEventOutput) { call throws(HelperError) in
                let map = try env.map(call.argument(2), argument: 2, of: .perfEventOutput)
                guard let events = map as? PerfEventArray else {
                    throw HelperError("bpf_perf_event_output: argument 2 is \(map.definition.type) '\(map.name)', not a perf_event_array")
                }
                let flags = call.argument(3)
                guard flags & ~(PerfEventArray.indexMask | PerfEventArray.contextLengthMask) == 0 else { return Errno.result(Errno.EINVAL) }
                let size = Int(clamping: call.argument(5))
                let contextLength = Int((flags & PerfEventArray.contextLengthMask) >> 32)
                // A sample's header records its size in 16 bits.
                guard size + contextLength <= 0xffff - 16 else { return Errno.result(Errno.E2BIG) }
                var sample = size == 0 ? [] : try call.memory.read(at: call.argument(4), count: size)
                if contextLength > 0 {
                    // The XDP version (bpf_xdp_event_output) appends the packet's first bytes.
                    guard call.memory.regions.regions.contains(where: { $0.kind == .context && $0.start == call.argument(1) }),
                          let frame = XDPFrames.frame(at: call.argument(1)) else { return Errno.result(Errno.EINVAL) }
                    guard frame.dataEnd - frame.data >= UInt64(contextLength) else { return Errno.result(Errno.EFAULT) }
                    sample += frame.read(at: Int(frame.data - frame.hardStart), count: contextLength)
                }
                return errnoResult { () throws(MapError) in try events.output(index: flags & PerfEventArray.indexMask, sample: sample) }
            },
            helper(.ringbufQuery) { call throws(HelperError) in
                let ring = try ring(call.argument(1), .ringbufQuery)
                switch call.argument(2) {
                case 0: return UInt64(ring.availableData) // BPF_RB_AVAIL_DATA
                case 1: return UInt64(ring.size)          // BPF_RB_RING_SIZE
                default: return 0
                }
            },
        ]
    }

    /// A map helper the kernel's verifier never lets a program call on this
    /// map's type (`check_map_func_compatibility`).
    static func refused(_ helper: KernelHelper, _ map: any BPFMap) -> HelperError {
        HelperError("\(helper.name): programs cannot call it on \(map.definition.type) '\(map.name)' (the kernel refuses this call at load time)")
    }

    /// 0 on success, `-errno` for a map failure, as helpers return them.
    static func errnoResult(_ body: () throws(MapError) -> Void) -> UInt64 {
        do { try body(); return 0 } catch { return Errno.result(error.errno) }
    }
}
