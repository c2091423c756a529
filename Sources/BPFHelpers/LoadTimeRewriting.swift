import BPFISA
import BPFMaps
import BPFRuntime
import BPFVerifier

/// Why a program cannot be made ready to run; each case names the instruction.
public enum LoadTimeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Structural problems (bad jump targets, falling off the end, ...).
    case invalidProgram(ISAError)
    /// A context access the program type does not allow.
    case contextAccess(ContextAccessError)
    /// A call to a helper number nobody registered.
    case unknownHelper(pc: Int, id: Int32)
    /// A helper the program type does not offer (e.g. `bpf_xdp_adjust_head` in a `mem` program).
    case helperNotAllowed(pc: Int, helper: String, programType: String)
    /// A call form BPFKit cannot run (kfuncs).
    case unsupportedCall(pc: Int, what: String)
    /// A 64-bit map or variable load that cannot be resolved.
    case badMapReference(pc: Int, reason: String)
    /// A kfunc call naming a function the embedder did not register.
    case unknownKernelFunction(pc: Int, name: String)

    public var description: String {
        switch self {
        case .invalidProgram(let error): error.description
        case .contextAccess(let error): error.description
        case .unknownHelper(let pc, let id):
            "instruction \(pc): " + KernelHelperNames.unknownCall(id)
                + (id > 0 ? " (BPFKit has \(KernelHelper.allCases.count) of the kernel's helpers; embedders register more)" : "")
        case .helperNotAllowed(let pc, let helper, let type):
            "instruction \(pc): \(helper) is not available to \(type) programs"
        case .unsupportedCall(let pc, let what): "instruction \(pc): \(what) is not supported"
        case .badMapReference(let pc, let reason): "instruction \(pc): \(reason)"
        case .unknownKernelFunction(let pc, let name):
            "instruction \(pc): call to kernel function '\(name)', which is not registered (register embedder functions with LoadOptions.kernelFunctions)"
        }
    }
}

/// The load-time passes between a decoded program and one an engine can run:
/// structural validation, context rewriting, map-reference resolution, and
/// checking every helper call against the registry.
public enum LoadTimeRewriting {
    /// Runs every pass. `maps[i]` is the map `.mapByIndex(i)` names;
    /// `fileDescriptors` maps the numbers of `.mapByFD` loads (hand-written
    /// programs) to indices of `maps`.
    public static func prepare(_ program: Program, type: any ProgramType, maps: [any BPFMap], helpers: HelperRegistry,
                               fileDescriptors: [Int32: Int] = [:]) throws(LoadTimeError) -> Program {
        try prepareMarkingAddresses(program, type: type, maps: maps, helpers: helpers, fileDescriptors: fileDescriptors).program
    }

    /// `prepare`, also naming the 64-bit loads it resolved to host addresses
    /// (global data, direct map values), which 32-bit engines must translate.
    public static func prepareMarkingAddresses(_ program: Program, type: any ProgramType, maps: [any BPFMap], helpers: HelperRegistry,
                                               fileDescriptors: [Int32: Int] = [:]) throws(LoadTimeError)
        -> (program: Program, addressLoads: [Int: AddressLoad], callbackLoops: [Int: CallbackLoop]) {
        do { try program.validate() } catch { throw .invalidProgram(error) }
        // Callback helpers become loops of bytecode first, so that the context
        // tracking below follows the callback's arguments like any call's.
        let inlined = try CallbackInlining.inline(program)
        do { try inlined.program.validate() } catch { throw .invalidProgram(error) }
        let rewritten: Program
        do { rewritten = try type.rewriteContextAccesses(in: inlined.program) } catch { throw .contextAccess(error) }
        let resolved = try resolveMapReferencesMarkingAddresses(rewritten, maps: maps, fileDescriptors: fileDescriptors)
        try checkCalls(resolved.program, helpers: helpers, type: type)
        return (resolved.program, resolved.addressLoads, inlined.loops)
    }

    /// Turns kfunc calls into calls of the helpers `functions` numbers:
    /// `names` gives each BTF id's function name (the object's BTF).
    public static func resolveKernelFunctions(_ program: Program, names: [Int32: String],
                                              functions: KernelFunctions) throws(LoadTimeError) -> Program {
        var out = program
        let ids = functions.helperIDs
        for (pc, instruction) in program.instructions.enumerated() {
            guard case .call(.kfunc(let btfID)) = instruction else { continue }
            let name = names[btfID] ?? "with BTF id \(btfID)"
            guard let id = ids[name] else { throw .unknownKernelFunction(pc: pc, name: name) }
            out.replace(at: pc, with: .call(.helper(id)))
        }
        return out
    }

    /// Replaces map loads by the map's handle and global-data loads by the value's address.
    public static func resolveMapReferences(_ program: Program, maps: [any BPFMap],
                                            fileDescriptors: [Int32: Int] = [:]) throws(LoadTimeError) -> Program {
        try resolveMapReferencesMarkingAddresses(program, maps: maps, fileDescriptors: fileDescriptors).program
    }

    /// `resolveMapReferences`, also naming the loads that now hold a host
    /// address and the value each points into.
    public static func resolveMapReferencesMarkingAddresses(_ program: Program, maps: [any BPFMap], fileDescriptors: [Int32: Int] = [:])
        throws(LoadTimeError) -> (program: Program, addressLoads: [Int: AddressLoad]) {
        var out = program
        var addressLoads: [Int: AddressLoad] = [:]
        for (pc, instruction) in program.instructions.enumerated() {
            guard case .loadImmediate64(let dst, let kind) = instruction else { continue }
            func map(_ index: Int32, byFD: Bool) throws(LoadTimeError) -> any BPFMap {
                let resolved = byFD ? fileDescriptors[index] : Int(index)
                guard let i = resolved, i >= 0, i < maps.count else {
                    throw .badMapReference(pc: pc, reason: byFD ? "no map with file descriptor \(index)" : "map index \(index) out of range (\(maps.count) maps)")
                }
                return maps[i]
            }
            func value(_ map: any BPFMap, _ offset: UInt32) throws(LoadTimeError) -> UInt64 {
                let address = try valueAddress(map, offset)
                let base = address - UInt64(offset)
                addressLoads[pc] = AddressLoad(object: base..<base + UInt64(map.definition.valueSize))
                return address
            }
            func valueAddress(_ map: any BPFMap, _ offset: UInt32) throws(LoadTimeError) -> UInt64 {
                guard let array = map as? ArrayMap, map.definition.maxEntries == 1 else {
                    throw .badMapReference(pc: pc, reason: "direct value access needs a one-element array map; '\(map.name)' is \(map.definition.type) with \(map.definition.maxEntries) entries")
                }
                guard Int(offset) < map.definition.valueSize else {
                    throw .badMapReference(pc: pc, reason: "offset \(offset) is outside the \(map.definition.valueSize)-byte value of '\(map.name)'")
                }
                return array.valueAddress(index: 0) + UInt64(offset)
            }
            let resolved: UInt64
            switch kind {
            case .value, .codeAddress: continue
            case .mapByIndex(let i): resolved = try map(i, byFD: false).handle
            case .mapByFD(let fd): resolved = try map(fd, byFD: true).handle
            case .mapValueByIndex(let i, let offset): resolved = try value(try map(i, byFD: false), offset)
            case .mapValueByFD(let fd, let offset): resolved = try value(try map(fd, byFD: true), offset)
            case .variable(let id, _):
                throw .badMapReference(pc: pc, reason: "load of kernel variable with BTF id \(id) (__ksym) is not supported")
            }
            out.replace(at: pc, with: .loadImmediate64(dst: dst, .value(resolved)))
        }
        return (out, addressLoads)
    }

    /// Every helper call must name a registered helper the program type offers.
    public static func checkCalls(_ program: Program, helpers: HelperRegistry, type: any ProgramType) throws(LoadTimeError) {
        for (pc, instruction) in program.instructions.enumerated() {
            switch instruction {
            case .call(.helper(let id)):
                guard helpers[id] != nil else { throw .unknownHelper(pc: pc, id: id) }
                if let kernel = KernelHelper(rawValue: id), !type.allows(kernel) {
                    throw .helperNotAllowed(pc: pc, helper: kernel.name, programType: type.name)
                }
            case .call(.kfunc(let id)):
                throw .unsupportedCall(pc: pc, what: "call to kernel function (kfunc) with BTF id \(id)")
            default:
                break
            }
        }
    }
}
