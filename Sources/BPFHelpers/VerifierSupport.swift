import BPFMaps
import BPFRuntime
import BPFVerifier

extension KernelHelper {
    /// What the verifier may assume of BPFKit's own implementation of this helper.
    public var verifierDescription: HelperDescription {
        let arguments = prototype.arguments.count
        let memory = verifierMemoryArguments
        let kinds: [HelperDescription.ArgumentKind] = prototype.arguments.map { kind in
            switch kind {
            case .pointer: .memory
            case .map: .map
            case .context: .context
            case .mapValueOrNull: .releasedReference   // bpf_ringbuf_submit/discard's record
            case .scalar, .size, .void: .number
            }
        }
        // Helpers that change the map in r1 (the kernel's "write into map forbidden" set).
        let modifies: Bool
        switch self {
        case .mapUpdateElem, .mapDeleteElem, .ringbufOutput, .ringbufReserve: modifies = true
        default: modifies = false
        }
        var description: HelperDescription
        switch self {
        case .mapLookupElem, .mapLookupPercpuElem:
            description = HelperDescription(arguments: arguments, result: .mapValueOrNull, memoryArguments: memory)
        case .tailCall:
            description = HelperDescription(arguments: arguments, result: .tailCall, memoryArguments: memory)
        case .ringbufReserve:
            description = HelperDescription(arguments: arguments, result: .acquiresReference(.ringBufferRecord), memoryArguments: memory)
        case _ where changesPacketData:
            description = HelperDescription(arguments: arguments, result: .scalar, movesPacket: true, memoryArguments: memory)
        default:
            description = HelperDescription(arguments: arguments, result: .scalar, memoryArguments: memory)
        }
        description.argumentKinds = kinds
        description.modifiesMap = modifies
        return description
    }

    /// The memory BPFKit's implementation reads or writes through the
    /// arguments (at most; a helper that fails early touches less).
    /// `bpf_trace_printk` also reads strings through r3–r5 for `%s`: a
    /// stack pointer there is not described, so it counts as escaping.
    var verifierMemoryArguments: [MemoryArgument] {
        switch self {
        case .mapLookupElem, .mapDeleteElem, .mapLookupPercpuElem:
            return [MemoryArgument(register: 2, size: .keySize, access: .read)]
        case .mapUpdateElem:
            return [MemoryArgument(register: 2, size: .keySize, access: .read),
                    MemoryArgument(register: 3, size: .valueSize, access: .read)]
        case .tracePrintk:
            return [MemoryArgument(register: 1, size: .register(2), access: .read)]
        case .csumDiff:
            return [MemoryArgument(register: 1, size: .register(2), access: .read),
                    MemoryArgument(register: 3, size: .register(4), access: .read)]
        case .ringbufOutput, .skbSetTunnelKey:
            return [MemoryArgument(register: 2, size: .register(3), access: .read)]
        case .perfEventOutput:
            return [MemoryArgument(register: 4, size: .register(5), access: .read)]
        case .xdpLoadBytes:
            return [MemoryArgument(register: 3, size: .register(4), access: .write)]
        case .xdpStoreBytes, .skbStoreBytes:
            return [MemoryArgument(register: 3, size: .register(4), access: .read)]
        case .skbLoadBytes, .skbLoadBytesRelative:
            return [MemoryArgument(register: 3, size: .register(4), access: .write)]
        case .fibLookup:
            // The struct is read, then parts of it written back: it must be initialised, as the kernel requires.
            return [MemoryArgument(register: 2, size: .register(3), access: .read)]
        case .ktimeGetNs, .ktimeGetBootNs, .ktimeGetCoarseNs, .getPrandomU32, .getSmpProcessorID, .tailCall,
             .xdpAdjustHead, .xdpAdjustTail, .xdpAdjustMeta, .ringbufReserve, .ringbufSubmit, .ringbufDiscard,
             .ringbufQuery, .xdpGetBuffLen, .l3CsumReplace, .l4CsumReplace, .getCgroupClassid, .skbVlanPush, .skbVlanPop,
             .skbChangeProto, .getHashRecalc, .skbChangeTail, .skbPullData, .csumUpdate, .setHashInvalid, .skbChangeHead,
             .setHash, .skbAdjustRoom, .skbChangeType, .csumLevel, .redirect, .redirectMap:
            return []
        }
    }
}

extension VerifierEnvironment {
    /// The environment of a program of `type` loaded with `maps`:
    /// `kernelHelpers` are the numbers whose registered helper is BPFKit's own
    /// kernel helper (not an embedder's replacement); every other helper is
    /// assumed to do anything.
    public static func forProgram(type: any ProgramType, maps: [any BPFMap], kernelHelpers: Set<Int32>) -> VerifierEnvironment {
        var descriptions: [UInt64: MapDescription] = [:]
        var regions: [DataRegion] = []
        for map in maps {
            let definition = map.definition
            // Redirect maps' values are read-only to programs (the kernel sets BPF_F_RDONLY_PROG on devmaps).
            let writable = !definition.flags.contains(.readOnlyProgram) && !definition.type.isRedirectTarget
            // A lookup in a map of maps gives an inner map (its handle, not memory), shaped as the template below.
            let lookup = definition.type.programsMayLookUp && !definition.type.isMapOfMaps
            var description = MapDescription(keySize: definition.keySize, valueSize: definition.valueSize, lookupReturnsValue: lookup,
                                             writable: writable)
            // Every inner map fits the template (`MapOfMaps.set` checks it), so lookups in one are bounded by it.
            if definition.type.isMapOfMaps, let template = definition.innerTemplate {
                description.innerTemplate = MapDescription(
                    keySize: template.keySize, valueSize: template.valueSize,
                    lookupReturnsValue: template.type.programsMayLookUp && !template.type.isMapOfMaps,
                    writable: !template.flags.contains(.readOnlyProgram) && !template.type.isRedirectTarget)
            }
            descriptions[map.handle] = description
            if let array = map as? ArrayMap, definition.maxEntries == 1 {
                regions.append(DataRegion(start: array.valueAddress(index: 0), size: definition.valueSize, writable: writable))
            }
        }
        var helpers: [Int32: HelperDescription] = [:]
        for helper in KernelHelper.allCases where kernelHelpers.contains(helper.rawValue) && type.allows(helper) {
            helpers[helper.rawValue] = helper.verifierDescription
        }
        var environment = VerifierEnvironment(context: type.verifierContext, r2IsSetAtEntry: type.setsR2AtEntry, maps: descriptions,
                                              dataRegions: regions, helpers: helpers)
        environment.writableContext = type.writableContext
        environment.r2IsInputLength = type.r2IsInputLength
        if type.r2IsInputLength { environment.inputLengthLimit = type.maxInputLength }
        return environment
    }
}
