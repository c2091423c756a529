import BPFRuntime
import CUnicorn

// Unicorn (and the C code hook) call these C-convention functions with the
// instance as user data. They may not capture anything, so each recovers
// the instance and forwards.

/// Called by the C code hook for instructions in the trampoline area.
let trampolineHandler: bpfkit_trampoline_handler = { address, context in
    EmulatorInstance.from(context).handleTrampoline(at: address)
}

let invalidMemoryHook: uc_cb_eventmem_t = { _, type, address, size, _, context in
    EmulatorInstance.from(context).handleInvalidAccess(type, address: address, size: Int(size))
}

let interruptHook: uc_cb_hookintr_t = { _, exception, context in
    let instance = EmulatorInstance.from(context)
    // Unicorn 2.0.1 reports RISC-V's illegal instructions here, as exception 2.
    if instance.performSoftInstruction(exception: exception) { return }
    instance.stop(instance.trapError(at: instance.counter.lastAddress, exception: exception))
}

let invalidInstructionHook: uc_cb_hookinsn_invalid_t = { _, context in
    let instance = EmulatorInstance.from(context)
    if instance.performSoftInstruction(exception: nil) { return true }
    instance.stop(instance.trapError(at: instance.counter.lastAddress, exception: nil))
    return false
}

extension EmulatorInstance {
    static func from(_ context: UnsafeMutableRawPointer?) -> EmulatorInstance {
        Unmanaged<EmulatorInstance>.fromOpaque(context!).takeUnretainedValue()
    }

    /// An access Unicorn could not complete: memory the resolver allows
    /// (a map value) is mapped and the access retried; anything else stops
    /// the run with the faulting instruction and address.
    func handleInvalidAccess(_ type: uc_mem_type, address: UInt64, size: Int) -> Bool {
        let write: Bool
        switch type {
        case UC_MEM_READ_UNMAPPED, UC_MEM_READ_PROT: write = false
        case UC_MEM_WRITE_UNMAPPED, UC_MEM_WRITE_PROT: write = true
        case UC_MEM_FETCH_UNMAPPED:
            // A jump into another program's image this engine has not mapped yet.
            if let image = machine.liveImage(containing: address), attachDuringRun(image) { return true }
            stop(.invalidProgramCounter(pc: currentPC))
            return false
        default:
            // A fetch from memory that is not code.
            stop(.invalidProgramCounter(pc: currentPC))
            return false
        }
        var outcome = mapOnDemand(guest: address, size: size, write: write)
        // An access that crosses into an unmapped page from a mapped one is
        // reported at the second page's first byte with the whole access's
        // size, so by itself it can look like it runs past its region. It
        // started at most `size - 1` bytes earlier, in the page before: map
        // the page if one of those starts makes a permitted access. (Which
        // start it was is not known here, so an access at the page's first
        // byte that overruns a region crossing into it is not refused by
        // this check; the bytes it reaches past the region are not host
        // memory, and the interpreter, which refuses it, tells the runs apart.)
        if case .refused = outcome, size > 1, EmulatorPage.floor(address) == address, address >= UInt64(EmulatorPage.size),
           shadows.isMapped(guestPage: address - UInt64(EmulatorPage.size)) {
            for back in 1..<UInt64(size) {
                outcome = mapOnDemand(guest: address - back, size: size, write: write)
                if case .refused = outcome { continue }
                break
            }
        }
        switch outcome {
        case .mapped:
            return true
        case .madeWritable:
            // Unicorn 2.0.1 may complete the faulting access against the stale
            // read-only translation (an atomic instruction's store is then lost),
            // so the instruction is not resumed but restarted (see `execute`).
            state.restartAfterFault = true
            return false
        case .refused:
            break
        }
        let host = state.space.hostAddress(forGuest: address) ?? address
        stop(.outOfBounds(pc: currentPC, address: host, size: size, write: write))
        return false
    }

    /// What `mapOnDemand` did.
    enum OnDemand {
        /// Mapped pages that were not: the access can be retried in place.
        case mapped
        /// Made a read-only page writable: the instruction must be restarted.
        case madeWritable
        /// The regions do not permit the access.
        case refused
    }

    /// Maps (or makes writable) the pages of an access that the regions
    /// permit but are not mapped yet: memory found through the resolver.
    private func mapOnDemand(guest: UInt64, size: Int, write: Bool) -> OnDemand {
        guard size > 0, let host = state.space.hostAddress(forGuest: guest),
              state.codeRegions.permits(host, size: size, write: write) else { return .refused }
        // Memory the program may write is mapped writable on its first read
        // already, as static regions are. Besides saving a fault, this keeps
        // protection faults away from atomic instructions: when one faults on
        // a read-only page and the hook makes it writable, Unicorn 2.0.1 can
        // lose the atomic's store.
        let writable = write || state.codeRegions.permits(host, size: size, write: true)
        var page = EmulatorPage.floor(guest)
        var result = OnDemand.mapped
        while page < guest + UInt64(size) {
            // Pages of the stack, image and trampolines are always mapped; only shadows get here.
            guard let hostPage = state.space.hostAddress(forGuest: page) else { return .refused }
            do {
                if !shadows.isMapped(guestPage: page) {
                    try shadows.map(guestPage: page, hostPage: hostPage, writable: writable,
                                    spans: programSpans(hostPage: hostPage))
                } else if write, !shadows.isWritable(guestPage: page) {
                    try shadows.makeWritable(guestPage: page)
                    result = .madeWritable
                }
            } catch {
                return .refused
            }
            page += UInt64(EmulatorPage.size)
        }
        return result
    }

    /// What a trap, an undefined instruction or another CPU exception at
    /// `native` means: control reached trap fill (a jump to where no code
    /// was generated), or the backend emitted something the CPU rejects.
    func trapError(at native: UInt64, exception: UInt32?) -> ExecutionError {
        let pc = bpfPC(native)
        let trap = architecture.trap
        guard let image = state.image else { return .invalidProgramCounter(pc: pc) }
        if let bytes = image.bytes(at: native, count: trap.count), bytes == trap {
            // Trap fill around the image: name the instruction that jumped there.
            return .invalidProgramCounter(pc: pc >= 0 ? pc : bpfPC(counter.previousAddress))
        }
        let word = image.bytes(at: native, count: 4).map { bytes in
            let value = bytes.reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let ordered = architecture.byteOrder == .big ? value.byteSwapped : value
            return "0x" + String(ordered, radix: 16)
        } ?? "outside the image"
        let cause = exception.map { "CPU exception \($0)" } ?? "an invalid-instruction fault"
        return .unsupported(pc: pc, what: "\(architecture.name) instruction \(word) at offset "
            + "\(Int64(bitPattern: native &- image.address)) raised \(cause)")
    }
}
