import BPFELF
import BPFHelpers
import BPFISA
import BPFMaps
import BPFRuntime
import BPFVerifier

/// Settings for loading an object.
public struct LoadOptions: Sendable {
    /// Where `bpf_trace_printk` output goes (standard error by default).
    public var trace: @Sendable (String) -> Void
    /// Embedder helpers, merged over the kernel's by number.
    public var extraHelpers: HelperRegistry

    /// How far the verifier may go (nil: do not verify; nothing is proven
    /// and every access stays checked).
    public var verifierLimits: VerifierLimits?
    /// What the host trusts the programs with (`.unprivileged`: no pointer
    /// leaks, and verification may not be left out).
    public var policy: VerifierPolicy
    /// What CO-RE relocations resolve against (default: the object's own types).
    public var coreTarget: CORETarget = .objectTypes
    /// The routing table `bpf_fib_lookup` answers from (nil: no routes).
    public var fib: FIBTable?

    /// Embedder functions programs call as kfuncs (`extern ... __ksym`), by name.
    public var kernelFunctions: KernelFunctions

    public init(trace: @escaping @Sendable (String) -> Void = HelperEnvironment.standardError,
                extraHelpers: HelperRegistry = HelperRegistry(), verifierLimits: VerifierLimits? = VerifierLimits(),
                policy: VerifierPolicy = .privileged, kernelFunctions: KernelFunctions = KernelFunctions()) {
        self.trace = trace
        self.kernelFunctions = kernelFunctions
        self.extraHelpers = extraHelpers
        self.verifierLimits = verifierLimits
        self.policy = policy
    }

    /// Kernel helper numbers the embedder did not replace.
    var kernelHelperNumbers: Set<Int32> {
        Set(KernelHelper.allCases.map(\.rawValue)).subtracting(extraHelpers.all.map(\.id))
    }
}

/// An object whose maps exist: global data holds its initial values, and
/// every program of the object shares the maps and helpers. Programs are
/// prepared for a type on demand (`program(named:section:type:)`).
public final class LoadedObject: Sendable {
    public let object: ObjectFile
    /// Map instances in the object's order (`object.maps[i]` is `maps.maps[i]`).
    public let maps: MapTable
    /// Kernel helpers over these maps, plus the embedder's.
    public let helpers: HelperRegistry
    /// The helper numbers that are BPFKit's own kernel helpers (not replaced
    /// by the embedder's): what the verifier may assume about them.
    public let kernelHelpers: Set<Int32>
    /// The verifier's limits for the object's programs (nil: not verified).
    public let verifierLimits: VerifierLimits?
    /// The policy the object's programs are loaded under.
    public let policy: VerifierPolicy
    /// The embedder functions the object's kfunc calls may name.
    public let kernelFunctions: KernelFunctions

    /// A program-array slot the object initialises statically (`__array(values, ...)`):
    /// the engine-prepared program named `program` belongs in `map` at `index`.
    public struct ProgramSlot: Sendable {
        public let map: ProgramArray
        public let index: Int
        public let program: String
    }
    /// What `populateProgramArrays` fills (libbpf does it at load time).
    public let programSlots: [ProgramSlot]

    /// Objects of either byte order load (`clang -target bpfel` or `bpfeb`):
    /// global data keeps the object's bytes, which its programs read in the
    /// object's order. Its programs run only on engines whose memory has that
    /// order (`LinkedProgram.byteOrder`), which the engine's caller checks.
    public init(_ object: ObjectFile, options: LoadOptions = LoadOptions()) throws(ObjectLoadError) {
        self.object = object
        var instances: [any BPFMap] = []
        var slots: [ProgramSlot] = []
        var innerSlots: [(outer: Int, index: Int, inner: String)] = []
        for description in object.maps {
            let map: any BPFMap
            do { map = try makeMap(description.definition, byteOrder: object.byteOrder) } catch { throw .map(name: description.name, error) }
            if let data = description.initialData {
                do { try map.update(key: [0, 0, 0, 0], value: data) } catch { throw .map(name: description.name, error) }
            }
            for slot in description.initialSlots {
                switch slot.target {
                case .program(let name):
                    guard let array = map as? ProgramArray else {
                        throw .map(name: description.name, .invalidArgument("only prog_array maps can be initialised with programs"))
                    }
                    slots.append(ProgramSlot(map: array, index: slot.index, program: name))
                case .map(let inner):
                    guard map is MapOfMaps else {
                        throw .map(name: description.name, .invalidArgument("only array_of_maps and hash_of_maps can be initialised with maps"))
                    }
                    innerSlots.append((instances.count, slot.index, inner))
                }
            }
            instances.append(map)
        }
        // Statically initialised inner maps (libbpf sets them once every map exists).
        for (outer, index, name) in innerSlots {
            let outerMap = instances[outer] as! MapOfMaps
            guard let inner = instances.first(where: { $0.name == name }) else {
                throw .map(name: outerMap.name, .invalidArgument("slot \(index) names '\(name)', which is not a map of this object"))
            }
            // The slot's index as the object's programs hold it: a u32 in the object's byte order.
            let ordered = object.byteOrder == .big ? UInt32(index).bigEndian : UInt32(index).littleEndian
            let bytes = withUnsafeBytes(of: ordered) { Array($0) }
            let size = min(outerMap.definition.keySize, 4)
            let key = object.byteOrder == .big ? Array(bytes.suffix(size)) : Array(bytes.prefix(size))
            do { try outerMap.set(inner, at: key) } catch { throw .map(name: outerMap.name, error) }
        }
        maps = MapTable(instances)
        programSlots = slots
        var registry = KernelHelpers.registry(HelperEnvironment(maps: maps, trace: options.trace, fib: options.fib))
        registry.merge(options.extraHelpers)
        for function in options.kernelFunctions.helpers { registry.register(function) }
        helpers = registry
        kernelHelpers = options.kernelHelperNumbers
        kernelFunctions = options.kernelFunctions
        verifierLimits = options.verifierLimits
        policy = options.policy
    }

    /// Parses `bytes` as an object file and loads it.
    public convenience init(bytes: [UInt8], options: LoadOptions = LoadOptions()) throws(ObjectLoadError) {
        let object: ObjectFile
        do { object = try ObjectFile(bytes: bytes, coreTarget: options.coreTarget) } catch { throw .object(error) }
        try self.init(object, options: options)
    }

    /// The map named `name` (a `.maps` variable, a legacy map symbol, or a data section such as `.bss`).
    public func map(named name: String) -> (any BPFMap)? { maps[name] }

    /// Chooses a program (by function name, by section, or the only / first one)
    /// and prepares it for `type` (default: inferred from its section, else an error).
    public func program(named name: String? = nil, section: String? = nil,
                        type: (any ProgramType)? = nil) throws(ObjectLoadError) -> LinkedProgram {
        var candidates = object.programs
        if let name { candidates = candidates.filter { $0.name == name } }
        if let section { candidates = candidates.filter { $0.section == section } }
        // Programs that cannot be loaded fail only when nothing loadable matches the selection.
        if candidates.isEmpty,
           let failed = object.unloadablePrograms.first(where: { (name == nil || $0.name == name) && (section == nil || $0.section == section) }) {
            throw .unloadable(name: failed.name, section: failed.section, failed.reason)
        }
        // With no name, the first program whose kfuncs are all registered (then the first).
        let usable = name == nil ? candidates.first(where: callsOnlyRegisteredFunctions) : nil
        guard let chosen = usable ?? candidates.first else {
            let available = (object.programs.map { "\($0.name) (section \($0.section))" }
                + object.unloadablePrograms.map { "\($0.name) (section \($0.section), cannot be loaded)" }).joined(separator: ", ")
            let wanted = [name.map { "named '\($0)'" }, section.map { "in section '\($0)'" }].compactMap { $0 }.joined(separator: " ")
            throw .programSelection(object.programs.isEmpty && object.unloadablePrograms.isEmpty ? "the object has no programs"
                                    : "no program \(wanted.isEmpty ? "found" : wanted); available: \(available)")
        }
        guard let type = type ?? ProgramTypes.forSection(chosen.section) else {
            throw .programType("cannot infer the program type of section '\(chosen.section)'; choose one (\(ProgramTypes.names))")
        }
        var helpers = helpers
        if !chosen.poisoned.isEmpty { helpers.register(Self.poisonHelper(chosen.poisoned)) }
        let ready: (program: Program, addressLoads: [Int: AddressLoad], callbackLoops: [Int: CallbackLoop])
        do {
            let resolved = try LoadTimeRewriting.resolveKernelFunctions(chosen.program, names: object.btfFunctionNames,
                                                                        functions: kernelFunctions)
            ready = try LoadTimeRewriting.prepareMarkingAddresses(resolved, type: type, maps: maps.maps, helpers: helpers)
        } catch {
            throw .program(name: chosen.name, error)
        }
        var linked = try LinkedProgram(name: chosen.name, section: chosen.section, program: ready.program, type: type, helpers: helpers,
                                       maps: maps, kernelHelpers: kernelHelpers, verifierLimits: verifierLimits, policy: policy,
                                       addressLoads: ready.addressLoads, poisoned: chosen.poisoned.mapValues(\.description),
                                       callbackLoops: ready.callbackLoops, helperDescriptions: kernelFunctions.verifierDescriptions)
        linked.byteOrder = object.byteOrder
        return linked
    }

    /// What a poisoned instruction (`call 0xbad2310`) does when a run reaches
    /// it: stops the run naming the relocation (the error names the instruction).
    static func poisonHelper(_ poisoned: [Int: PoisonedInstruction]) -> Helper {
        let sorted = poisoned.sorted { $0.key < $1.key }
        let message = sorted.count == 1 ? "reached an instruction poisoned because \(sorted[0].value)"
            : "reached an instruction poisoned because a CO-RE relocation could not be resolved (" +
              sorted.map { "instruction \($0.key): \($0.value)" }.joined(separator: "; ") + ")"
        return Helper(id: PoisonedInstruction.helperID, name: "poisoned CO-RE relocation",
                      prototype: HelperPrototype([], returns: .scalar(bits: 64))) { (_: borrowing HelperCall) throws(HelperError) -> UInt64 in
            throw HelperError(message)
        }
    }

    /// Whether every kfunc `program` calls is one the embedder registered.
    private func callsOnlyRegisteredFunctions(_ program: ObjectProgram) -> Bool {
        let registered = kernelFunctions.helperIDs
        return program.program.instructions.allSatisfy { instruction in
            guard case .call(.kfunc(let id)) = instruction else { return true }
            return object.btfFunctionNames[id].map { registered[$0] != nil } ?? false
        }
    }

    /// Fills the statically initialised program-array slots (libbpf does it at
    /// load time): `prepare` makes each named program a target, given the
    /// target the slot holds now (nil when empty), so that preparations for
    /// several engines can be gathered in one entry.
    public func populateProgramArrays(_ prepare: (LinkedProgram, TailCallTarget?) throws -> TailCallTarget) throws {
        for slot in programSlots {
            let program = try program(named: slot.program)
            let current = slot.map.entry(at: slot.index).target
            try slot.map.set(try prepare(program, current?.name == program.name ? current : nil), at: slot.index)
        }
    }

    /// The object's program arrays.
    public var programArrays: [ProgramArray] { maps.maps.compactMap { $0 as? ProgramArray } }
}

/// A program ready for any engine: map references resolved to handles and
/// addresses, context accesses rewritten, helpers checked. Engines never see
/// ELF; they get `program` and `engineConfiguration`, and each run's memory
/// comes from `makeRun(input:)`.
public struct LinkedProgram: Sendable {
    public let name: String
    public let section: String
    public let program: Program
    public let type: any ProgramType
    public let helpers: HelperRegistry
    public let maps: MapTable
    /// What BPFKit's verifier proved about `program` (it runs when the
    /// program is linked; what it cannot prove stays checked at run time).
    public let verification: VerificationReport
    /// The policy the program was loaded under; `.unprivileged` also makes
    /// its engine configurations hardened (`VerifierPolicy.hardensByDefault`).
    public let policy: VerifierPolicy
    /// The loads of `program` the loader resolved to host addresses (global
    /// data, direct map values), for engines that must translate them.
    public let addressLoads: [Int: AddressLoad]
    /// The byte order the program was compiled for (an object's `EI_DATA`:
    /// `bpfel` little, `bpfeb` big), which the memory of the engine running
    /// it must have; nil for programs that name none (assembly, raw bytes,
    /// corpus files), which run in either.
    public internal(set) var byteOrder: ByteOrder?
    /// What the verifier was given, to verify the program again as a
    /// tail-call target (`engineConfiguration(asTailCallTarget:)`).
    private let verifierEnvironment: VerifierEnvironment
    private let verifierLimits: VerifierLimits?

    /// `addressLoads`: which 64-bit loads of `program` hold host addresses
    /// (`LoadTimeRewriting.prepareMarkingAddresses` names them).
    /// `kernelHelpers`: the helper numbers whose registered helper is
    /// BPFKit's own kernel helper; the verifier assumes nothing of the others.
    /// `verifierLimits`: nil leaves the program unverified (nothing proven).
    /// `callbackLoops`: the loops the loader put in place of callback
    /// helpers (`LoadTimeRewriting.prepareMarkingAddresses` names them).
    /// `helperDescriptions`: what the verifier may assume of further
    /// helpers (the embedder's kfuncs, from their prototypes).
    /// Throws `.refused` when the verifier refuses the program (see
    /// `VerificationReport.refusal`), or when `policy` requires verification
    /// and `verifierLimits` is nil.
    public init(name: String, section: String, program: Program, type: any ProgramType, helpers: HelperRegistry, maps: MapTable,
                kernelHelpers: Set<Int32> = [], verifierLimits: VerifierLimits? = VerifierLimits(),
                policy: VerifierPolicy = .privileged, addressLoads: [Int: AddressLoad] = [:],
                poisoned: [Int: String] = [:], callbackLoops: [Int: CallbackLoop] = [:],
                helperDescriptions: [Int32: HelperDescription] = [:]) throws(ObjectLoadError) {
        self.name = name
        self.addressLoads = addressLoads
        self.section = section
        self.program = program
        self.type = type
        self.helpers = helpers
        self.maps = maps
        self.policy = policy
        if policy.requiresVerification && verifierLimits == nil {
            throw .refused(name: name, "the load policy requires verification")
        }
        var environment = VerifierEnvironment.forProgram(type: type, maps: maps.maps, kernelHelpers: kernelHelpers)
        environment.poisonedInstructions = poisoned
        environment.callbackLoops = callbackLoops
        environment.helpers.merge(helperDescriptions) { _, new in new }
        self.verifierEnvironment = environment
        self.verifierLimits = verifierLimits
        verification = verifierLimits.map { Verifier.verify(program, environment: environment, limits: $0, policy: policy) }
            ?? Verifier.unverified(program)
        if let refusal = verification.refusal { throw .refused(name: name, refusal) }
    }

    /// The verifier's facts, which engines use to leave out checks.
    public var proofs: ProgramProofs { verification.proofs }

    /// Prepares a program that did not come from an object (assembled, raw bytes):
    /// the same passes, with `maps` standing for `.mapByIndex` / `.mapByFD` numbers.
    public init(program: Program, type: any ProgramType, maps: [any BPFMap] = [], fileDescriptors: [Int32: Int] = [:],
                options: LoadOptions = LoadOptions()) throws(ObjectLoadError) {
        let table = MapTable(maps)
        var registry = KernelHelpers.registry(HelperEnvironment(maps: table, trace: options.trace, fib: options.fib))
        registry.merge(options.extraHelpers)
        let ready: (program: Program, addressLoads: [Int: AddressLoad], callbackLoops: [Int: CallbackLoop])
        do {
            ready = try LoadTimeRewriting.prepareMarkingAddresses(program, type: type, maps: maps, helpers: registry,
                                                                  fileDescriptors: fileDescriptors)
        } catch {
            throw .program(name: program.name, error)
        }
        try self.init(name: program.name, section: "", program: ready.program, type: type, helpers: registry, maps: table,
                      kernelHelpers: options.kernelHelperNumbers, verifierLimits: options.verifierLimits, policy: options.policy,
                      addressLoads: ready.addressLoads, callbackLoops: ready.callbackLoops)
    }

    /// What to pass to `ExecutionEngine.prepare`: the helpers, the budget,
    /// the object's program arrays for `bpf_tail_call`, and (unless
    /// `verified` is false) the verifier's proofs.
    ///
    /// `asTailCallTarget`: for a preparation a program array will hold. A
    /// tail call enters its target with the caller's r1 and with r2 holding
    /// the program array, so facts that rest on r2 at entry (the input's
    /// length, `ProgramType.r2IsInputLength`) do not hold there: the
    /// program is verified again without them, and those proofs are used.
    public func engineConfiguration(instructionLimit: UInt64 = ExecutionLimits.defaultInstructionLimit,
                                    verified: Bool = true, hardened: Bool = false,
                                    asTailCallTarget: Bool = false) -> EngineConfiguration {
        var report = verification
        if asTailCallTarget, verified, verifierEnvironment.r2IsInputLength, let verifierLimits {
            var environment = verifierEnvironment
            environment.r2IsInputLength = false
            report = Verifier.verify(program, environment: environment, limits: verifierLimits, policy: policy)
        }
        let usable = verified && report.gaveUp == nil && report.refusal == nil
        var configuration = EngineConfiguration(helpers: helpers, instructionLimit: instructionLimit, tailCalls: tailCallEnvironment,
                                                proofs: usable ? report.proofs : nil, addressLoads: addressLoads)
        configuration.hardened = hardened || policy.hardensByDefault
        return configuration
    }

    /// The program arrays of the program's object, as engines see them.
    public var tailCallEnvironment: TailCallEnvironment {
        TailCallEnvironment(programType: type.name, arrays: maps.maps.compactMap { $0 as? ProgramArray })
    }

    /// Memory and registers for one run over `input`; keep the result alive during the run.
    /// `byteOrder` is the order of the engine's memory (default: the
    /// program's own, else the host's); the run's context is laid out in it.
    public func makeRun(input: [UInt8], byteOrder: ByteOrder? = nil) throws(ObjectLoadError) -> any ProgramRun {
        do { return try type.makeRun(input: input, maps: maps.regions, byteOrder: byteOrder ?? self.byteOrder ?? .host) } catch {
            throw .runInput(error)
        }
    }

    /// Checks that an engine whose memory has `engineOrder` can run the
    /// program; `engine` names it in the error.
    public func checkByteOrder(_ engineOrder: ByteOrder, engine: String) throws(ObjectLoadError) {
        if let byteOrder, byteOrder != engineOrder {
            throw .byteOrder(object: byteOrder, engine: engineOrder, engineName: engine)
        }
    }
}
