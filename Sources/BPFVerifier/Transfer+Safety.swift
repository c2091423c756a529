import BPFISA

/// The conditions a program must meet to be loaded at all (the verifier's
/// refusals): what no run-time check covers, as the kernel's verifier
/// refuses them.
extension Analysis {
    /// What a pointer becomes when the verifier stops following it: an
    /// unknown number, or under a policy without pointer leaks a register
    /// that may not be read (the kernel's `mark_reg_invalid`).
    var lostPointer: Value { policy.allowsPointerLeaks ? .unknown : .uninitialized }

    /// Conditions of the helper itself: bpf_tail_call's context and held
    /// references, a map change on a map read-only for programs.
    func checkHelperConditions(_ state: State, _ description: HelperDescription, name: String, at pc: Int) {
        if description.result == .tailCall {
            // The target runs with this r1, verified as its own context.
            // For `mem` the context is the input itself (`data + 0`).
            let context: Value = environment.r2IsInputLength ? .packet(id: state[1].packetID ?? 0, offset: 0, variable: .zero) : .context(offset: 0)
            if state[1] != context {
                refuse("instruction \(pc): bpf_tail_call needs the program's context, unmodified, in r1 (r1 is \(state[1].summary))")
            }
            if inCallback(state) {
                refuse("instruction \(pc): bpf_tail_call inside a callback of bpf_loop or bpf_for_each_map_elem (it would replace the callback's frame inside the loop)")
            }
            if let held = state.references.first {
                refuse("instruction \(pc): bpf_tail_call while holding the \(held.kind.name) acquired at instruction \(held.pc) (it would never be released)")
            }
        }
        if description.modifiesMap, let map = lookedUpMap(state), !map.writable {
            refuse("instruction \(pc): \(name): write into map forbidden: the map in r1 is read-only for programs")
        }
    }

    /// Under a policy without pointer leaks: a pointer may go only to an
    /// argument that takes that kind of pointer (memory, a map, the context,
    /// a reference to release), never to one the helper treats as a number.
    func checkArgumentLeak(_ value: Value, number: Int, _ description: HelperDescription, name: String, at pc: Int) {
        guard !policy.allowsPointerLeaks, value.isPointer else { return }
        let kind = description.argumentKinds.flatMap { number <= $0.count ? $0[number - 1] : nil }
        let fits: Bool
        switch (kind, value) {
        case (.memory?, .stack), (.memory?, .packet), (.memory?, .region), (.memory?, .reference): fits = true
        case (.map?, .mapHandle), (.map?, .innerMap), (.context?, .context), (.releasedReference?, .reference): fits = true
        case (.context?, .packet(_, 0, .zero)) where environment.r2IsInputLength: fits = true
        default: fits = false
        }
        if !fits { refuse("instruction \(pc): \(name): r\(number) leaks a pointer (\(value.summary)) into a helper argument that does not take one") }
    }

    /// An acquired reference is used (dereferenced, or handed to a helper as
    /// memory) only after its null check, as the kernel requires.
    func checkNullChecked(_ base: Value, _ what: String, at pc: Int) {
        guard case .reference(_, _, true) = base else { return }
        refuse("instruction \(pc): \(what) uses an acquired reference before its null check")
    }

    /// The helper releases the reference in argument register `number`: it
    /// must be one the path holds, null-checked and unmodified; every copy
    /// dies.
    func release(_ state: inout State, number: Int, name: String, at pc: Int) {
        guard case .reference(let id, let offset, let maybeNull) = state[number],
              let index = state.references.firstIndex(where: { $0.id == id }) else {
            refuse("instruction \(pc): \(name): r\(number) must be an acquired reference (it is \(state[number].summary))")
            return
        }
        guard !maybeNull else {
            refuse("instruction \(pc): \(name): r\(number) may be null (check the \(state.references[index].kind.name) acquired at instruction \(state.references[index].pc) first)")
            return
        }
        guard offset == 0 else {
            refuse("instruction \(pc): \(name): r\(number) must point where the reference starts (offset \(offset))")
            return
        }
        state.references.remove(at: index)
        let lost = lostPointer
        state.rewriteAll { $0.referenceID == id ? lost : nil }
    }

    /// `exit`: from the entry function the run ends (no reference may be
    /// held; under a policy without pointer leaks r0 must be a number);
    /// from a subprogram the frame returns.
    func exit(_ state: State, at pc: Int) -> [State] {
        let r0 = read(state, .r0, at: pc, flows: false)
        if case .callback(let kind, let site) = state.frames[state.depth - 1].role {
            checkCallbackReturn(r0, kind, callSite: site, at: pc)
            return []   // the loop calls it again or ends: both paths are explored from the call
        }
        guard state.depth == 1 else { return [returnToCaller(state)] }
        if let held = state.references.first {
            refuse("instruction \(pc): exits holding the \(held.kind.name) acquired at instruction \(held.pc) (unreleased reference)")
        }
        checkNoLeak(r0, "r0 at exit", at: pc)
        return []
    }

    /// `callx`: the helper whose number the register holds. A number not
    /// known at load could name any helper, among them ones with load-time
    /// conditions (bpf_tail_call's context, map writes, references): refused.
    func callThroughRegister(_ state: State, _ r: Register, at pc: Int) -> [State] {
        let value = read(state, r, at: pc, flows: false)
        guard let number = value.scalar?.constant, let id = Int32(exactly: Int64(bitPattern: number)) else {
            refuse("instruction \(pc): callx \(r): the helper number is not known at load (\(value.summary))")
            return []
        }
        return callHelper(state, id: id, at: pc)
    }
}

extension State {
    /// Whether widening toward `other` would make a pointer an unknown number.
    func widensPointer(toward other: State) -> Bool {
        guard other.frames.count == frames.count else { return false }
        for f in frames.indices {
            for r in frames[f].registers.indices where frames[f].registers[r] != other.frames[f].registers[r] {
                if frames[f].registers[r].isPointer { return true }
            }
        }
        return false
    }
}
