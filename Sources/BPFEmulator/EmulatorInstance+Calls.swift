import BPFRuntime

/// Helper and runtime calls: what happens when emulated code reaches a
/// trampoline slot. The hook runs before the slot's trap executes, so the
/// call is complete when it resumes the program at the link register.
extension EmulatorInstance {
    func handleTrampoline(at address: UInt64) {
        let returnAddress = unicorn.read(architecture.linkRegister)
        let callSite = CallSite(instance: self, native: returnAddress &- UInt64(architecture.returnAddressOffset))
        let offset = Int(address - machine.trampolineBase)
        guard offset % Trampolines.slotSize == 0,
              let target = machine.trampolines.withLock({ $0.target(atSlot: offset / Trampolines.slotSize) }) else {
            // Not a slot anyone was given: a stray jump, not a call.
            stop(.invalidProgramCounter(pc: currentPC))
            return
        }
        switch target {
        case .exit:
            unicorn.stop()
        case .helper(let id):
            callHelper(id, callSite: callSite, returnAddress: returnAddress)
        case .runtimeCall(let call):
            callRuntime(call, callSite: callSite, returnAddress: returnAddress)
        }
    }

    private func callHelper(_ id: Int32, callSite: CallSite, returnAddress: UInt64) {
        guard let helper = machine.helpers[id] else {
            stop(.unknownHelper(pc: callSite.pc, id: id))
            return
        }
        let byPrototype = architecture.helperArguments == .aapcs
        let read = byPrototype ? readAAPCSArguments(helper.prototype.arguments, callSite: callSite)
            : readArguments(5, required: helper.prototype.arguments.count, callSite: callSite)
        guard var arguments = read else { return }
        let translated = machine.addressModel == .translated
        if translated {
            for (index, kind) in helper.prototype.arguments.enumerated() {
                if kind.isPointer {
                    arguments[index] = state.space.hostAddress(forGuest: arguments[index]) ?? arguments[index]
                } else if kind == .map, let handle = handleTokens[arguments[index]] {
                    arguments[index] = handle
                }
            }
        }
        guard synchronizeBeforeCall(callSite: callSite) else { return }
        // Pointers in scalar arguments (trace_printk's `%s`) are guest
        // addresses: the helper's memory access translates what no region holds.
        let space = state.space
        let order = architecture.byteOrder
        let memory = translated ? MemoryAccess(regions: state.regions, byteOrder: order, hostAddress: { space.hostAddress(forGuest: $0) })
            : MemoryAccess(regions: state.regions, byteOrder: order)
        let call = HelperCall(helperID: id, arguments: (arguments[0], arguments[1], arguments[2], arguments[3], arguments[4]),
                              memory: memory)
        let value: UInt64
        do {
            value = try helper.body(call)
        } catch {
            shadows.copyIn()
            stop(.helperFailed(pc: callSite.pc, id: id, message: error.message))
            return
        }
        shadows.refresh(spans: programSpans)
        var result = value
        if translated, helper.prototype.result.isPointer, value != 0, helper.resultIsMapHandle?(arguments[0]) == true {
            guard let token = token(forHandle: value) else {
                stop(.helperFailed(pc: callSite.pc, id: id, message: "more map handles than the guest can stand for"))
                return
            }
            result = token
        } else if translated, helper.prototype.result.isPointer, value != 0 {
            guard let guest = guestPointer(forHost: value) else {
                let message = "returned pointer 0x\(String(value, radix: 16)) is outside the program's memory"
                stop(.helperFailed(pc: callSite.pc, id: id, message: message))
                return
            }
            result = guest
        }
        // AAPCS: a one-word result comes back in r0 alone; r1 is then as
        // undefined as any caller-saved register.
        let word = byPrototype && AAPCS.isWord(helper.prototype.result)
        finishCall(result: result, returnAddress: returnAddress, oneWord: word)
    }

    /// Arguments placed by the helper's prototype (`AAPCS.locations(for:)`),
    /// widened to 64 bits (one-word values zero-extended); missing ones are 0.
    /// The argument registers are taken in memory order (a big-endian O32
    /// row lists its pairs high word first) and stack offsets count from the
    /// row's first stack slot (16 on O32, after the home area), which makes
    /// the same rules O32's (`O32.locations(for:)`).
    private func readAAPCSArguments(_ kinds: [ValueKind], callSite: CallSite) -> [UInt64]? {
        var values: [UInt64] = []
        let little = architecture.byteOrder == .little
        let registers: [EmulatedRegister] = [architecture.arguments[0], architecture.arguments[1]].flatMap { location -> [EmulatedRegister] in
            if case .registerPair(let low, let high) = location { return little ? [low, high] : [high, low] }
            return []
        }
        var stackBase = 0
        if case .stack(let offset) = architecture.arguments[2] { stackBase = offset }
        for location in AAPCS.locations(for: kinds) {
            switch location {
            case .register(let n):
                values.append(unicorn.read(registers[n]) & 0xFFFF_FFFF)
            case .pair(let n):
                let (low, high) = little ? (registers[n], registers[n + 1]) : (registers[n + 1], registers[n])
                values.append(unicorn.read(low) & 0xFFFF_FFFF | (unicorn.read(high) & 0xFFFF_FFFF) << 32)
            case .stack(let offset, let bytes):
                let address = unicorn.read(architecture.stackPointer) &+ UInt64(stackBase + offset)
                guard let slot = stackOffset(of: address) else {
                    stop(.outOfBounds(pc: callSite.pc, address: address, size: bytes, write: false))
                    return nil
                }
                let value = stack.load(at: slot, architecture.byteOrder)
                values.append(bytes == 8 ? value : architecture.byteOrder == .little ? value & 0xFFFF_FFFF : value >> 32)
            }
        }
        while values.count < 5 { values.append(0) }
        return values
    }

    /// Runtime calls report failures as `helperFailed` with id -1; the
    /// message names the routine.
    private func callRuntime(_ call: RuntimeCall, callSite: CallSite, returnAddress: UInt64) {
        guard let arguments = readArguments(call.argumentCount, required: call.argumentCount, callSite: callSite),
              synchronizeBeforeCall(callSite: callSite) else { return }
        let memory = TargetMemory(byteOrder: architecture.byteOrder, addressSpace: state.space,
                                  host: MemoryAccess(regions: state.regions))
        let value: UInt64
        do {
            value = try call.body(RuntimeCallContext(arguments: arguments, memory: memory))
        } catch {
            shadows.copyIn()
            stop(.helperFailed(pc: callSite.pc, id: -1, message: "runtime call \(call.name): \(error.message)"))
            return
        }
        // BPFKit's own routines (division, atomics, the bounds check) move no
        // region's ends: only the pages' bytes are compared.
        shadows.refresh(spans: nil)
        finishCall(result: value, returnAddress: returnAddress, oneWord: false)
    }

    /// Makes host memory current before Swift code reads it.
    private func synchronizeBeforeCall(callSite: CallSite) -> Bool {
        state.calls += 1
        if let refused = shadows.writeBack(permitsWrite: { state.codeRegions.permits($0, size: $1, write: true) }) {
            stop(.outOfBounds(pc: callSite.pc, address: refused.address, size: refused.count, write: true))
            return false
        }
        return true
    }

    /// Result in place, caller-saved registers poisoned, back to the caller.
    private func finishCall(result: UInt64, returnAddress: UInt64, oneWord: Bool) {
        if machine.configuration.poisonsCallerSavedRegisters {
            let first = architecture.byteOrder == .little ? architecture.result.registers.prefix(1) : architecture.result.registers.suffix(1)
            let results = oneWord ? Array(first) : architecture.result.registers
            for register in architecture.callerSaved where !results.contains(register) {
                unicorn.write(register, Self.poison)
            }
        }
        switch architecture.result {
        case .register(let register):
            unicorn.write(register, result)
        case .registerPair(let low, let high):
            if oneWord {
                // One word comes back in the first result register (r0, v0),
                // which a big-endian O32 row lists as the high one.
                unicorn.write(architecture.byteOrder == .little ? low : high, result & 0xFFFF_FFFF)
            } else {
                unicorn.write(low, result & 0xFFFF_FFFF)
                unicorn.write(high, result >> 32)
            }
        }
        unicorn.write(architecture.programCounter, returnAddress)
    }

    /// The first `count` arguments of a call, or nil (and the run stopped)
    /// when the stack slot of one of the first `required` lies outside the
    /// stack. Slots past `required` (arguments the callee does not declare)
    /// that fall outside read as 0: a caller need not have pushed them.
    private func readArguments(_ count: Int, required: Int, callSite: CallSite) -> [UInt64]? {
        var values: [UInt64] = []
        for (index, location) in architecture.arguments.prefix(count).enumerated() {
            switch location {
            case .register(let register):
                values.append(unicorn.read(register))
            case .registerPair(let low, let high):
                values.append(unicorn.read(low) & 0xFFFF_FFFF | unicorn.read(high) << 32)
            case .stack(let offset):
                let address = unicorn.read(architecture.stackPointer) &+ UInt64(offset)
                guard let offset = stackOffset(of: address) else {
                    guard index < required else {
                        values.append(0)
                        continue
                    }
                    stop(.outOfBounds(pc: callSite.pc, address: address, size: 8, write: false))
                    return nil
                }
                values.append(stack.load(at: offset, architecture.byteOrder))
            }
        }
        return values
    }

    /// Passes one entry argument; false when a stack slot falls outside the stack.
    func writeArgument(_ value: UInt64, to location: ArgumentLocation) -> Bool {
        switch location {
        case .register(let register):
            unicorn.write(register, value)
        case .registerPair(let low, let high):
            unicorn.write(low, value & 0xFFFF_FFFF)
            unicorn.write(high, value >> 32)
        case .stack(let offset):
            let address = unicorn.read(architecture.stackPointer) &+ UInt64(offset)
            guard let offset = stackOffset(of: address) else { return false }
            stack.store(value, at: offset, architecture.byteOrder)
        }
        return true
    }

    /// Where an 8-byte stack slot at a guest address lies in the stack's host
    /// pages. The stack is BPFKit's own memory mapped directly, so it needs no copying.
    private func stackOffset(of guest: UInt64) -> Int? {
        guard guest >= stackGuest, guest &+ 8 <= stackTop else { return nil }
        return Int(guest - stackGuest)
    }

    /// The guest value standing for a map handle a helper returned (an
    /// address in `GuestLayout.handleTokens`, never mapped), the same for
    /// the same handle; `.map` arguments holding one get the handle back.
    private func token(forHandle handle: UInt64) -> UInt64? {
        if let token = tokensByHandle[handle] { return token }
        let token = GuestLayout.handleTokens.lowerBound + UInt64(handleTokens.count) * GuestLayout.handleTokenStride
        guard GuestLayout.handleTokens.contains(token) else { return nil }
        handleTokens[token] = handle
        tokensByHandle[handle] = token
        return token
    }

    /// The guest address for a host pointer a helper returned: in an existing
    /// window, or in a new one if the regions permit the memory (a map value).
    private func guestPointer(forHost host: UInt64) -> UInt64? {
        if let guest = state.space.guestAddress(forHost: host) { return guest }
        guard state.regions.permits(host, size: 1, write: false),
              let window = state.space.window(host: EmulatorPage.floor(host), length: GuestLayout.dynamicWindowLength) else {
            return nil
        }
        return window.guest + (host - window.host)
    }
}

/// Where a call was made from, named as a BPF pc only when an error needs it
/// (finding it costs a search of the program's pc map, on every call).
struct CallSite {
    unowned(unsafe) let instance: EmulatorInstance
    /// The native address of the call instruction.
    let native: UInt64

    var pc: Int { instance.bpfPC(native) }
}

extension ValueKind {
    /// Whether values of this kind are addresses the program dereferences
    /// (and so are translated on 32-bit targets). Map handles are opaque.
    var isPointer: Bool {
        switch self {
        case .pointer, .context, .mapValueOrNull: true
        default: false
        }
    }
}

extension EmulatorInstance {
    /// Shows the run's pointer words (`RunInput.pointerWords`, e.g. XDP's
    /// data, data_end, data_meta) as guest addresses. They point into one
    /// object (the packet, and one past its end), so they are translated
    /// through one window of their own spanning all of them: a static window
    /// that happens to hold the object's first page may end before its last.
    /// The window is kept while it still covers the words (helpers such as
    /// `bpf_xdp_adjust_head` move them), and values outside the run's memory
    /// show as 0.
    ///
    /// The words are in the machine's byte order (the run built its context
    /// for this engine), and the guest addresses are written in it.
    func translatePointerWords(_ words: [UInt64]) {
        let swapped = architecture.byteOrder != .host
        let values = words.map {
            let raw = UnsafeRawPointer(bitPattern: UInt($0))!.loadUnaligned(as: UInt64.self)
            return swapped ? raw.byteSwapped : raw
        }
        let permitted = values.filter { value in
            value != 0 && (state.regions.permits(value, size: 1, write: false) || state.regions.permits(value &- 1, size: 1, write: false))
        }
        guard let low = permitted.min(), let high = permitted.max() else {
            for word in words { shadows.overlay(word: word, value: 0) }   // 0 reads the same in either order
            return
        }
        if pointerWindow.map({ !($0.contains(host: low) && high - $0.host <= $0.length) }) ?? true {
            let start = EmulatorPage.floor(low)
            let length = max(GuestLayout.dynamicWindowLength, EmulatorPage.ceil(high + 1) - start)
            pointerWindow = state.space.window(host: start, length: length)
        }
        for (word, value) in zip(words, values) {
            guard let window = pointerWindow, permitted.contains(value) else {
                shadows.overlay(word: word, value: 0)
                continue
            }
            let guest = window.guest + (value - window.host)
            shadows.overlay(word: word, value: swapped ? guest.byteSwapped : guest)
        }
    }
}
