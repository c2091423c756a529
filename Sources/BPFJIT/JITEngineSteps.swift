import BPFISA
import BPFRuntime

/// The steps every JIT engine takes around the pass driver, whatever its
/// architecture: check the program and bind its helpers, blind it when
/// hardened, keep the proofs that apply, check the writing pass, and word
/// a `JITError` as the engine protocol's error.
public enum JITEngineSteps {
    /// Validates `program` and binds its helper calls to the configuration's registry.
    public static func helperTable(_ program: Program, configuration: EngineConfiguration) throws(EngineError) -> JITHelperTable {
        do throws(ISAError) {
            try program.validate()
        } catch {
            throw .invalidProgram(error)
        }
        do throws(JITError) {
            return try JITHelperTable(program: program, registry: configuration.helpers)
        } catch {
            throw engineError(error)
        }
    }

    /// The constant-blinded form of `program` when the configuration asks
    /// for hardened code (`JITBlinding`), else nil.
    public static func blinding(_ program: Program, configuration: EngineConfiguration) throws(EngineError) -> JITBlinding? {
        guard configuration.hardened else { return nil }
        do throws(JITError) {
            return try JITBlinding.blind(program)
        } catch {
            throw engineError(error)
        }
    }

    /// What of `configuration.proofs` applies to `program`, asked about the
    /// original slot of each rewritten one when the code is `blinding`'s.
    public static func proofs(_ program: Program, configuration: EngineConfiguration,
                              blinding: JITBlinding? = nil) -> JITProofs {
        let proofs = JITProofs(configuration.proofs, program: program, instructionLimit: configuration.instructionLimit,
                               tailCalls: configuration.tailCalls)
        return blinding.map { proofs.blinded($0) } ?? proofs
    }

    /// The writing pass produced exactly the size of the pass before it
    /// (the one that decided every call's form).
    public static func checkLastPassesAgree(_ sizes: [Int], image: JITImage) throws(JITError) {
        guard let last = sizes.last, last == image.size else {
            throw .unencodable("the writing pass produced \(image.size) bytes, the backend counted \(sizes.last ?? -1)")
        }
        if sizes.count >= 2, sizes[sizes.count - 2] != last {
            throw .didNotConverge(passes: sizes.count)
        }
    }

    /// Assembles `program` for `address` without placing it anywhere
    /// (listings, encoder tests), for a backend without direct tail calls:
    /// the helpers bound, the program blinded when hardened, the proofs that
    /// apply, the passes of the backend `make` builds for the code compiled
    /// (its helpers, its proofs), the writing pass checked against
    /// `passSizes`, and the image `tag`ged and numbered as the original.
    public static func assemble<Backend: JITBackend>(
        _ program: Program, configuration: EngineConfiguration, at address: UInt,
        passSizes: KeyPath<Backend, [Int]>, tag: (JITImage) -> JITImage = { $0 },
        backend make: (Program, JITHelperTable, JITProofs) throws(JITError) -> Backend
    ) throws(EngineError) -> JITImage {
        let helpers = try helperTable(program, configuration: configuration)
        let blinding = try blinding(program, configuration: configuration)
        do throws(JITError) {
            let code = blinding?.program ?? program
            var backend = try make(code, helpers, proofs(program, configuration: configuration, blinding: blinding))
            let image = tag(try JITDriver.compile(code, backend: &backend, placement: .address(address)).0)
            try checkLastPassesAgree(backend[keyPath: passSizes], image: image)
            return blinding?.restore(image) ?? image
        } catch {
            throw engineError(blinding?.restore(error) ?? error)
        }
    }

    public static func engineError(_ error: JITError) -> EngineError {
        .compilationFailed(pc: error.pc, reason: error.description)
    }

    /// Each program array of the configuration's tail-call environment by
    /// handle, numbered in the environment's order: the word of the run
    /// context where backends with indirect tail calls find its table.
    public static func tableIndex(_ configuration: EngineConfiguration, maxArrays: Int) throws(EngineError) -> [UInt64: Int] {
        let arrays = configuration.tailCalls?.allArrays ?? []
        guard arrays.count <= maxArrays else {
            throw .compilationFailed(pc: nil, reason: "more than \(maxArrays) program arrays")
        }
        var index: [UInt64: Int] = [:]
        for (k, array) in arrays.enumerated() { index[array.handle] = k }
        return index
    }
}

/// Where code compiled for an emulated machine calls out of its image: each
/// helper's address (a trampoline slot), the slow bounds check
/// `(context, address, info) -> 0 or nonzero`, and the backend's own
/// routines (division, atomics: whatever it cannot do in a few instructions).
public struct JITCallTargets<Routine: Hashable & Sendable>: Sendable {
    public var helpers: [Int32: UInt64]
    public var checkAccess: UInt64
    public var routines: [Routine: UInt64]

    public init(helpers: [Int32: UInt64], checkAccess: UInt64, routines: [Routine: UInt64]) {
        self.helpers = helpers
        self.checkAccess = checkAccess
        self.routines = routines
    }
}

/// What a backend's constructor works out once from the program, before
/// any pass: which accesses keep a run-time check, the function index of
/// each entry slot and the BPF stack the image reserves.
public struct JITProgramLayout: Sendable {
    /// Slots whose access keeps a run-time check (not proven safe, not
    /// inside the frame by its form).
    public let checked: Set<Int>
    /// Function index by entry slot.
    public let functionIndex: [Int: Int]
    /// BPF stack bytes reserved (all frames), in multiples of `granule`.
    public let stackSize: Int

    public init(_ program: Program, memoryChecking: MemoryChecking, proofs: JITProofs, granule: Int) throws(JITError) {
        guard program.count <= JITStatus.maxPC else { throw .tooLarge("more than \(JITStatus.maxPC) instruction slots") }
        var stack = JITStackUse()
        var checked: Set<Int> = []
        for (pc, instruction) in program.instructions.enumerated() {
            stack.note(instruction, at: pc, names: instruction.namedRegisters, proofs: proofs)
            switch instruction {
            case .load, .loadSignExtend, .store, .storeImmediate, .atomic:
                if memoryChecking == .checked, JITStackSizing.needsCheck(instruction),
                   !proofs.provesSafe(instruction, at: pc) {
                    checked.insert(pc)
                }
            default: break
            }
        }
        self.checked = checked
        var functionIndex: [Int: Int] = [:]
        for (k, entry) in program.jitFunctionEntries.enumerated() { functionIndex[entry] = k }
        self.functionIndex = functionIndex
        stackSize = stack.stackSize(proofs: proofs, granule: granule)
    }
}
