import BPFRuntime
import CUnicorn

/// One Unicorn engine of a machine: trampolines and a private stack mapped,
/// hooks installed, and the images of the programs it has run mapped too.
/// A run uses it exclusively (the machine's pool hands it to one thread at a
/// time, which is why it may be marked Sendable although nothing in it is
/// synchronized).
final class EmulatorInstance: @unchecked Sendable {
    /// What the hooks need to know about the run in progress.
    struct RunState {
        /// The program being run.
        var image: LoadedImage?
        /// The run's regions, plus the machine stack when the machine's
        /// configuration lets calls see it: what helpers may touch (host addresses).
        var regions = MemoryRegions()
        /// `regions` plus the run's machine-only regions (a JIT's run
        /// context): what the code itself may touch, and its stores write back to.
        var codeRegions = MemoryRegions()
        var space: GuestAddressSpace
        /// The bytes of each host page (by its address) that the static
        /// regions of `codeRegions` cover, as offsets in the page.
        var staticSpans: [UInt64: [Range<Int>]] = [:]
        /// Why a hook stopped the run, if one did.
        var stop: ExecutionError?
        var calls = 0
        /// A fault handler made a page writable: restart the faulting instruction.
        var restartAfterFault = false
    }

    /// Unowned: engines live in the machine's pool, and a run's program keeps the machine alive.
    unowned let machine: EmulatedMachine
    let architecture: EmulatedArchitecture
    let unicorn: UnicornHandle
    let shadows: ShadowMemory
    /// Counts, limits and locates instructions; dispatches trampoline slots.
    let counter: CodeHook
    let stack: HostPages
    /// Guest address of the stack's lowest byte (the host address under identity).
    let stackGuest: UInt64
    var state: RunState
    /// Images mapped into this engine, by id. Holding them keeps their pages
    /// alive while Unicorn maps them, even after their program is gone.
    private var mapped: [UInt64: LoadedImage] = [:]
    /// The window the run's pointer words are shown through (`translatePointerWords`).
    var pointerWindow: GuestAddressSpace.Window?
    /// Images mapped now.
    var mappedImageCount: Int { mapped.count }
    /// Images mapped since the engine was built (each mapping counts) and the
    /// bytes of their pages: what its translated code may have grown by
    /// (`EmulatedMachine.EngineLifetime`).
    private(set) var imagesMapped = 0
    private(set) var imageBytesMapped = 0
    /// The machine's retirement count when this engine last unmapped images.
    var retirementsSeen: UInt64 = 0
    /// The machine's generation (`EmulatedMachine.recycle`) this engine serves.
    var generationSeen: UInt64 = 0
    /// The image of the last run that started here: a run of another one
    /// starts on a zeroed stack.
    private var lastImageID: UInt64?
    /// Map handles helpers returned, by the guest token standing for each
    /// (`GuestLayout.handleTokens`), and the reverse; handles are stable while
    /// their map lives, so tokens are kept across runs.
    var handleTokens: [UInt64: UInt64] = [:]
    var tokensByHandle: [UInt64: UInt64] = [:]

    /// Bytes above the entry stack pointer: the caller's outgoing-argument
    /// area, where stack arguments live (and O32's home area for a0–a3).
    static let outgoingArea: UInt64 = 64
    /// Callee-saved register `i` holds `seedTag | i` on entry (its low 32
    /// bits are distinctive too, for the 32-bit targets).
    static let seedTag: UInt64 = 0x5EED_5EED_5EED_5E00
    /// What caller-saved registers hold after a call and on entry.
    static let poison: UInt64 = 0xDEAD_BEEF_DEAD_BEEF

    init(machine: EmulatedMachine) throws(EmulatorError) {
        self.machine = machine
        self.architecture = machine.architecture
        let identity = machine.addressModel == .identity
        unicorn = try UnicornHandle(cpu: architecture.cpu, wordSize: architecture.wordSize)
        shadows = ShadowMemory(unicorn: unicorn)
        // Under identity the guard page keeps host data from sitting right below the stack.
        stack = try HostPages(count: machine.configuration.stackSize, guardBelow: identity ? EmulatorPage.size : 0)
        stackGuest = identity ? stack.address : GuestLayout.stackTop - UInt64(stack.count)
        state = RunState(space: GuestAddressSpace(model: machine.addressModel))
        counter = CodeHook(trampolines: machine.trampolineArea, handler: trampolineHandler)

        try unicorn.map(machine.trampolineBase, count: Trampolines.areaSize, [.read, .execute],
                        host: machine.trampolinePages.base)
        try unicorn.map(stackGuest, count: stack.count, [.read, .write], host: stack.base)

        let context = Unmanaged.passUnretained(self).toOpaque()
        try counter.install(on: unicorn, context: context)
        try unicorn.hookInvalidMemory(context: context, invalidMemoryHook)
        try unicorn.hookInterrupt(context: context, interruptHook)
        try unicorn.hookInvalidInstruction(context: context, invalidInstructionHook)
    }

    var stackTop: UInt64 { stackGuest + UInt64(stack.count) }

    /// Forgets what the machine's previous programs left in this engine:
    /// stack contents and the tokens of map handles (their maps may be gone).
    func startTenancy() {
        stack.zero()
        lastImageID = nil
        handleTokens = [:]
        tokensByHandle = [:]
        pointerWindow = nil
    }

    func bpfPC(_ native: UInt64) -> Int { state.image?.bpfPC(forNativeAddress: native) ?? -1 }

    /// Where the run is: the last image instruction that began executing.
    var currentPC: Int { bpfPC(counter.lastAddress) }

    /// Records why the run must stop (the first reason wins) and stops it.
    func stop(_ error: ExecutionError) {
        if state.stop == nil { state.stop = error }
        unicorn.stop()
    }

    // MARK: - Images

    /// Maps a program's image (read and execute) unless it is mapped
    /// already. Images it overlaps (a released address reused, or two images
    /// sharing a page) are unmapped first, and code translated from the old
    /// bytes is dropped. Unmapping alone does not drop it in Unicorn 2.0.1:
    /// without the explicit drop, a new image at a released image's address
    /// runs the old code (`IsolationTests`).
    func attach(_ image: LoadedImage) throws(EmulatorError) {
        guard mapped[image.id] == nil else { return }
        for (id, other) in mapped where other.mappedRange.overlaps(image.mappedRange) {
            try detach(id, other)
        }
        try unicorn.map(image.base, count: image.pages.count, [.read, .execute], host: image.pages.base)
        mapped[image.id] = image
        countMapping(image)
        try unicorn.invalidateCode(image.mappedRange)
    }

    /// Maps, during a run, another live image of the machine that the
    /// program jumped into (a tail call). Its range was unmapped, so nothing
    /// was translated from it: no code to drop, and none is dropped mid-run.
    func attachDuringRun(_ image: LoadedImage) -> Bool {
        guard mapped[image.id] == nil,
              !mapped.values.contains(where: { $0.mappedRange.overlaps(image.mappedRange) }) else { return false }
        do {
            try unicorn.map(image.base, count: image.pages.count, [.read, .execute], host: image.pages.base)
        } catch {
            return false
        }
        mapped[image.id] = image
        countMapping(image)
        return true
    }

    private func countMapping(_ image: LoadedImage) {
        imagesMapped += 1
        imageBytesMapped += image.pages.count
    }

    /// Unmaps the images of programs that no longer exist.
    func detachImages(except live: Set<UInt64>) throws(EmulatorError) {
        for (id, other) in mapped where !live.contains(id) {
            try detach(id, other)
        }
    }

    private func detach(_ id: UInt64, _ image: LoadedImage) throws(EmulatorError) {
        try unicorn.unmap(image.base, count: image.pages.count)
        mapped[id] = nil
    }

    // MARK: - A run

    func execute(_ image: LoadedImage, entry: UInt64, arguments: [EmulatedArgument], regions: MemoryRegions,
                 machineOnly: [MemoryRegion] = [], callStack: CallStackBounds? = nil, limit: UInt64,
                 pointerWords: [UInt64] = []) throws(ExecutionError) -> EmulatedRun {
        do {
            try attach(image)
        } catch {
            throw .unsupported(pc: 0, what: "mapping the image: \(error)")
        }
        // A program never sees what another one left on the stack.
        if lastImageID != image.id {
            if lastImageID != nil { stack.zero() }
            lastImageID = image.id
        }
        counter.reset(limit: limit, entry: entry)
        shadows.afterCopyIn = {}
        try prepareMemory(regions, machineOnly: machineOnly, callStack: callStack, image: image)
        if machine.addressModel == .translated && !pointerWords.isEmpty {
            pointerWindow = nil
            shadows.afterCopyIn = { [unowned self] in self.translatePointerWords(pointerWords) }
            translatePointerWords(pointerWords)
        }

        // Registers: poison what the program must not read, seed what it must preserve.
        for register in architecture.callerSaved { unicorn.write(register, Self.poison) }
        for (index, register) in architecture.calleeSaved.enumerated() {
            unicorn.write(register, Self.seedTag | UInt64(index))
        }
        let stackPointer = stackTop - Self.outgoingArea
        unicorn.write(architecture.stackPointer, stackPointer)
        unicorn.write(architecture.linkRegister, machine.exitAddress)
        if let register = architecture.entryAddressRegister { unicorn.write(register, entry) }
        for index in 0..<5 {
            let value: UInt64
            switch index < arguments.count ? arguments[index] : .value(0) {
            case .value(let v): value = v
            case .hostPointer(let host):
                guard let guest = state.space.guestAddress(forHost: host) else {
                    throw .outOfBounds(pc: 0, address: host, size: 0, write: false)
                }
                value = guest
            }
            guard writeArgument(value, to: architecture.arguments[index]) else {
                throw .unsupported(pc: 0, what: "argument \(index + 1) does not fit the outgoing stack area")
            }
        }

        var code = unicorn.start(at: entry, until: machine.exitAddress)
        while state.restartAfterFault, state.stop == nil, !counter.limitReached {
            state.restartAfterFault = false
            let faulting = counter.lastAddress
            counter.restartLastInstruction()
            code = unicorn.start(at: faulting, until: machine.exitAddress)
        }
        var outcome = self.outcome(of: code)
            .flatMap { checkPreserved(stackPointer: stackPointer) }
            .map { result() }

        // Always write back, as a native run leaves its stores in place whatever happens.
        if let refused = shadows.writeBack(permitsWrite: { state.codeRegions.permits($0, size: $1, write: true) }),
           case .success = outcome {
            outcome = .failure(.outOfBounds(pc: currentPC, address: refused.address, size: refused.count, write: true))
        }
        let value = try outcome.get()
        return EmulatedRun(value: value, instructionCount: counter.executed, calls: state.calls)
    }

    /// Places the run's regions (windows under translation) and maps their pages.
    private func prepareMemory(_ regions: MemoryRegions, machineOnly: [MemoryRegion], callStack: CallStackBounds?,
                               image: LoadedImage) throws(ExecutionError) {
        var space = GuestAddressSpace(model: machine.addressModel)
        if machine.addressModel == .translated {
            space.addWindow(host: stack.address, guest: stackGuest, length: UInt64(stack.count))
            space.addFixed(machine.fixedWindows)
        }
        var visible = regions
        if machine.configuration.callsSeeMachineStack {
            visible.regions.append(MemoryRegion(start: stack.address, count: stack.count, writable: true, kind: .stack))
        } else if let callStack {
            // Calls see only the part of this engine's stack the run names, at call time.
            let inner = regions
            let host = stack.address, guest = stackGuest, count = UInt64(stack.count)
            @Sendable func named() -> Range<UInt64>? {
                let bounds = callStack()
                guard bounds.low >= guest, bounds.high > bounds.low, bounds.high - guest <= count else { return nil }
                return bounds.low - guest + host..<bounds.high - guest + host
            }
            visible.resolver = { address, size, write in
                if size >= 0, let named = named(), address >= named.lowerBound, address <= named.upperBound,
                   UInt64(size) <= named.upperBound - address { return true }
                return inner.resolver?(address, size, write) ?? false
            }
            visible.extents = { low, high in (named().map { [$0] } ?? []) + inner.resolvedRanges(low, high) }
        }
        var code = visible
        code.regions += machineOnly
        // Each page a static region meets is mapped, showing only the bytes
        // of the program's memory in it (`ShadowMemory`).
        var plan: [UInt64: ShadowMemory.Plan] = [:]
        var staticSpans: [UInt64: [Range<Int>]] = [:]
        do {
            try space.place(regions.regions + machineOnly)
            for region in regions.regions + machineOnly where region.count > 0 {
                var host = EmulatorPage.floor(region.start)
                while host < region.end {
                    let guest = space.guestAddress(forHost: host)!
                    plan[guest] = ShadowMemory.Plan(host: host, writable: (plan[guest]?.writable ?? false) || region.writable)
                    let low = Int(max(region.start, host) - host)
                    let high = Int(min(region.end, host + UInt64(EmulatorPage.size)) - host)
                    staticSpans[host, default: []].append(low..<high)
                    host += UInt64(EmulatorPage.size)
                }
            }
            state = RunState(image: image, regions: visible, codeRegions: code, space: space, staticSpans: staticSpans)
            for (guest, page) in plan { plan[guest]?.spans = programSpans(hostPage: page.host) }
            try shadows.prepare(plan)
        } catch {
            throw .unsupported(pc: 0, what: "mapping the run's memory: \(error)")
        }
    }

    /// The bytes of the host page at `hostPage` that are the run's memory
    /// (the static regions and what the resolver admits now), as sorted,
    /// disjoint offsets in the page: what its shadow copies, and all it
    /// copies. A resolver without `MemoryRegions.extents` is probed.
    func programSpans(hostPage: UInt64) -> [Range<Int>] {
        let resolved = state.codeRegions.resolvedRanges(hostPage, hostPage + UInt64(EmulatorPage.size))
        let fixed = state.staticSpans[hostPage] ?? []
        if resolved.isEmpty, fixed.count <= 1 { return fixed }
        let all = fixed.map { UInt64($0.lowerBound)..<UInt64($0.upperBound) } + resolved.map { $0.lowerBound - hostPage..<$0.upperBound - hostPage }
        return MemoryRegions.merged(all).map { Int($0.lowerBound)..<Int($0.upperBound) }
    }

    /// Why `uc_emu_start` returned, as a result or an error.
    private func outcome(of code: uc_err) -> Result<Void, ExecutionError> {
        if let stop = state.stop { return .failure(stop) }
        let last = counter.lastAddress
        if counter.limitReached {
            return .failure(.instructionLimit(pc: bpfPC(last), limit: counter.limit))
        }
        switch code {
        case UC_ERR_OK:
            guard unicorn.read(architecture.programCounter) == machine.exitAddress else {
                return .failure(.invalidProgramCounter(pc: bpfPC(last)))
            }
            return .success(())
        case UC_ERR_FETCH_UNMAPPED, UC_ERR_FETCH_PROT, UC_ERR_FETCH_UNALIGNED:
            return .failure(.invalidProgramCounter(pc: bpfPC(last)))
        case UC_ERR_READ_UNMAPPED, UC_ERR_READ_PROT:
            // The memory hook records these with their address; this is a fallback.
            return .failure(.outOfBounds(pc: bpfPC(last), address: 0, size: 0, write: false))
        case UC_ERR_WRITE_UNMAPPED, UC_ERR_WRITE_PROT:
            return .failure(.outOfBounds(pc: bpfPC(last), address: 0, size: 0, write: true))
        case UC_ERR_READ_UNALIGNED, UC_ERR_WRITE_UNALIGNED:
            return .failure(.unsupported(pc: bpfPC(last), what: "an unaligned access the \(architecture.name) CPU refuses"))
        case UC_ERR_INSN_INVALID, UC_ERR_EXCEPTION:
            return .failure(trapError(at: last, exception: nil))
        default:
            return .failure(.unsupported(pc: bpfPC(last), what: "emulation: \(String(cString: uc_strerror(code)))"))
        }
    }

    /// The program's result, from the result location.
    private func result() -> UInt64 {
        switch architecture.result {
        case .register(let register):
            return unicorn.read(register)
        case .registerPair(let low, let high):
            return unicorn.read(low) & 0xFFFF_FFFF | unicorn.read(high) << 32
        }
    }

    /// A native run returns into Swift code that relies on the callee-saved
    /// registers and the stack pointer; a program that changes them would
    /// corrupt its caller there, so here it fails.
    private func checkPreserved(stackPointer: UInt64) -> Result<Void, ExecutionError> {
        let mask: UInt64 = architecture.wordSize == 4 ? 0xFFFF_FFFF : .max
        var clobbered: [String] = []
        for (index, register) in architecture.calleeSaved.enumerated()
        where unicorn.read(register) != (Self.seedTag | UInt64(index)) & mask {
            clobbered.append(register.name)
        }
        if unicorn.read(architecture.stackPointer) != stackPointer { clobbered.append(architecture.stackPointer.name) }
        guard clobbered.isEmpty else {
            return .failure(.unsupported(pc: currentPC, what: "returning without restoring callee-saved "
                + "\(clobbered.joined(separator: ", ")) (an ABI violation the native caller would not survive)"))
        }
        return .success(())
    }
}
