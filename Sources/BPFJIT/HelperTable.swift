import BPFISA
import BPFRuntime

/// The helpers a program calls, resolved at prepare time into dense slots.
///
/// A call site passes its slot (and pc) to the host routine in one 32-bit
/// word, so calling a helper costs an array index, not a dictionary lookup.
/// Unknown helper numbers are rejected here, before any code runs.
public struct JITHelperTable: Sendable {
    /// Slot used by `callx` (the helper number is read at run time).
    public static let dynamicSlot = 0xff

    public private(set) var helpers: [Helper] = []
    private var slots: [Int32: Int] = [:]
    /// Every registered helper, for calls through a register.
    public let registry: HelperRegistry

    public init(program: Program, registry: HelperRegistry) throws(JITError) {
        self.registry = registry
        for (pc, instruction) in program.instructions.enumerated() {
            guard case .call(.helper(let id)) = instruction, slots[id] == nil else { continue }
            guard let helper = registry[id] else { throw .unknownHelper(pc: pc, id: id) }
            guard helpers.count < Self.dynamicSlot else { throw .tooLarge("more than 254 distinct helpers") }
            slots[id] = helpers.count
            helpers.append(helper)
        }
    }

    /// The slot of a helper number this table resolved.
    public func slot(of id: Int32) -> Int { slots[id]! }

    /// Per helper-call slot, how the call runs when the verifier proved its
    /// arguments (`HelperCallProof`: r1 the same map on every path, every
    /// memory argument in bounds) and the helper has a proven form for that
    /// map (`Helper.proven`). Such a call needs no run context, no site word
    /// and no status test afterwards: it cannot fail.
    public func provenCalls(_ program: Program, proofs: JITProofs) -> [Int: ProvenHelperCall] {
        guard proofs.applies else { return [:] }
        var calls: [Int: ProvenHelperCall] = [:]
        for (pc, instruction) in program.instructions.enumerated() {
            guard case .call(.helper(let id)) = instruction, let slot = slots[id], let make = helpers[slot].proven,
                  let proof = proofs.helperCall(at: pc), proof.memoryArgumentsInBounds, let handle = proof.mapHandle,
                  let call = make(handle) else { continue }
            calls[pc] = call
        }
        return calls
    }

    /// The word a call site stores before calling the helper routine.
    public static func site(slot: Int, pc: Int) -> UInt32 { UInt32(slot) << 24 | UInt32(pc) }
}
