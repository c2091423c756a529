import BPFMaps
import BPFRuntime
import BPFVerifier

extension KernelHelper {
    /// What the verifier may assume of BPFKit's own implementation of this helper.
    public var verifierDescription: HelperDescription {
        let arguments = prototype.arguments.count
        switch self {
        case .mapLookupElem, .mapLookupPercpuElem:
            return HelperDescription(arguments: arguments, result: .mapValueOrNull)
        case .tailCall:
            return HelperDescription(arguments: arguments, result: .tailCall)
        case .xdpAdjustHead, .xdpAdjustMeta, .xdpAdjustTail:
            return HelperDescription(arguments: arguments, result: .scalar, movesPacket: true)
        default:
            return HelperDescription(arguments: arguments, result: .scalar)
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
            let writable = !definition.flags.contains(.readOnlyProgram)
            let lookup: Bool
            switch definition.type {
            case .array, .hash, .perCPUArray, .perCPUHash, .lruHash, .lruPerCPUHash: lookup = true
            case .programArray, .ringBuffer: lookup = false
            }
            descriptions[map.handle] = MapDescription(valueSize: definition.valueSize, lookupReturnsValue: lookup, writable: writable)
            if let array = map as? ArrayMap, definition.maxEntries == 1 {
                regions.append(DataRegion(start: array.valueAddress(index: 0), size: definition.valueSize, writable: writable))
            }
        }
        var helpers: [Int32: HelperDescription] = [:]
        for helper in KernelHelper.allCases where kernelHelpers.contains(helper.rawValue) && type.allows(helper) {
            helpers[helper.rawValue] = helper.verifierDescription
        }
        return VerifierEnvironment(context: type.verifierContext, r2IsSetAtEntry: type.setsR2AtEntry, maps: descriptions,
                                   dataRegions: regions, helpers: helpers)
    }
}
