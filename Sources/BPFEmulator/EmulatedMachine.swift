// BPFEmulator: running foreign-architecture JIT output under Unicorn.
//
// Design summary (for docs/ARCHITECTURE.md):
//
// - A backend describes its target with one `EmulatedArchitecture` value
//   (Unicorn CPU, argument/result/link/stack registers, trap bytes); the five
//   targets are rows of `Architectures.swift`.
// - `EmulatedMachine` owns the layout: 64 KiB of trap-filled 16-byte
//   trampoline slots (one per helper or runtime call) and code areas near it
//   (direct-call range) and far from it; `EmulatedProgram` is an image loaded
//   there. A machine-wide pool of Unicorn engines serves runs, one run per
//   engine, so threads run in parallel; images are mapped on first use.
//   A machine no program uses any more can be recycled with new helpers
//   (`recycle`): engines kept, old images, fixed windows, stacks and
//   map-handle tokens forgotten.
// - Addresses: 64-bit targets use host addresses unchanged (code and
//   trampoline addresses are reserved PROT_NONE in the host). 32-bit targets
//   see host pages through windows below 2 GiB; pointers are translated at
//   the boundary (`.hostPointer` arguments, helper pointers by prototype).
// - Memory: stack, image and trampolines are BPFKit-owned pages mapped
//   directly. Region pages are shadow copies of the bytes that are the run's
//   memory (the rest reads as zero), copied in before the run and
//   after each helper call; the bytes the program changed are written back
//   before each helper call and at the end, only where the regions permit:
//   host memory stays authoritative, stray writes are reported, never
//   applied. Map values are mapped on first touch if the resolver allows it.
// - One C code hook runs before every instruction: in the trampolines it
//   calls Swift (arguments, helper, result, poisoned caller-saved registers,
//   return to the link register); elsewhere it counts, enforces the limit
//   exactly and records the address faults are reported at (about 3 ns per
//   instruction in all, against 1 ns unhooked). Errors name the BPF pc
//   through the backend's `NativePCMap`.

import BPFISA
import BPFRuntime
import Synchronization

/// A CPU of another architecture, emulated by Unicorn, on which JIT images
/// for that architecture run against BPFKit's helpers and host memory.
///
/// The backend's side of the contract: describe the target (`architecture`),
/// ask for helper and runtime-call addresses (`helperAddress(for:)`,
/// `runtimeCallAddress(for:)`) and an image address (`reserveImage`), emit
/// against them, and `load` the bytes. Everything else — mapping, calls,
/// faults, counting — happens here.
public final class EmulatedMachine: Sendable {
    /// Per-machine settings; the defaults suit the conformance corpus.
    public struct Configuration: Sendable {
        /// Bytes of native stack per run: the JIT's frames, including the BPF
        /// stack of every call level and the registers it saves.
        public var stackSize: Int
        /// Fill caller-saved registers with a poison value after every call.
        public var poisonsCallerSavedRegisters: Bool
        /// Whether helpers and runtime calls may touch the machine stack.
        /// True suits native code with no memory model of its own (the
        /// emulator's tests). A JIT's machine sets it false: the machine
        /// stack holds its saved registers and frame records, and helpers
        /// must see only the BPF stack inside it, which the run supplies
        /// among its own regions (as the native engines do).
        public var callsSeeMachineStack: Bool
        /// How much code an engine maps before it is retired (closed, its
        /// translated code and memory given back) and a fresh one takes its
        /// place. Unicorn 2.0.1 never reuses the space of code it dropped: an
        /// engine's translation buffer (1 GiB) fills as it maps images, and
        /// when it fills during a run Unicorn flushes it there and can link a
        /// block to one that is gone (a null store in `tb_set_jmp_target`,
        /// after about 47,000 programs on one riscv64 machine). Its own flush
        /// call (`UC_CTL_TB_FLUSH`) is no way out: it makes the whole buffer
        /// resident, 1 GiB per engine. A retired engine costs a fresh
        /// `uc_open` (about half a millisecond) and gives everything back.
        public var engineLifetime: EngineLifetime

        public init(stackSize: Int = 64 << 10, poisonsCallerSavedRegisters: Bool = true, callsSeeMachineStack: Bool = true,
                    engineLifetime: EngineLifetime = EngineLifetime()) {
            self.stackSize = stackSize
            self.poisonsCallerSavedRegisters = poisonsCallerSavedRegisters
            self.callsSeeMachineStack = callsSeeMachineStack
            self.engineLifetime = engineLifetime
        }
    }

    /// The code an engine may map in its life: it is retired when it returns
    /// to the pool with either limit reached. Translated code takes about 16
    /// host bytes per guest byte with the instruction-counting hook, so the
    /// default (8 MiB of image pages) keeps an engine near 128 MiB of its
    /// 1 GiB buffer, and its memory with it.
    public struct EngineLifetime: Sendable, Equatable {
        /// Images mapped (each mapping counts, also of an image mapped again).
        public var images: Int
        /// Bytes of the pages of those images.
        public var imageBytes: Int

        public init(images: Int = 2_048, imageBytes: Int = 8 << 20) {
            self.images = images
            self.imageBytes = imageBytes
        }

        func isSpent(images mapped: Int, imageBytes mappedBytes: Int) -> Bool {
            mapped >= images || mappedBytes >= imageBytes
        }
    }

    public let architecture: EmulatedArchitecture
    public let configuration: Configuration
    /// The helpers calls reach: fixed while any program of the machine
    /// exists; a machine nothing uses any more may be given others (`recycle`).
    public var helpers: HelperRegistry { tenancy.withLock { $0.helpers } }
    /// The machine's current helpers, and how many times it was recycled.
    private let tenancy: Mutex<Tenancy>

    /// First trampoline slot; slot 0 is the entry call's return address.
    let trampolineBase: UInt64
    /// Trap-filled pages every engine maps (read and execute) at `trampolineBase`.
    let trampolinePages: HostPages
    let trampolines = Mutex(Trampolines())
    private let nearCode: CodeArea
    private let farCode = Mutex<CodeArea?>(nil)
    /// Code beyond RISC-V's `jal` (±1 MiB) from the trampolines, within ±2 GiB.
    private let midCode: CodeArea
    /// Bytes of the middle code area of a 64-bit machine, right after the near one.
    static let midCodeLength = 8 << 20
    /// Engines not running anything, shared by all the machine's programs.
    private let idleEngines = Mutex<[EmulatorInstance]>([])
    /// Engines closed because they had mapped their lifetime's code.
    private let retiredEngines = Mutex(0)
    /// Images whose programs still exist.
    private let images = Mutex(ImageRegistry())
    /// Host memory shown at the same guest address in every run (translated machines).
    private let fixed = Mutex(FixedWindows())

    public init(
        architecture: EmulatedArchitecture,
        helpers: HelperRegistry = HelperRegistry(),
        configuration: Configuration = Configuration()
    ) throws(EmulatorError) {
        try architecture.validate()
        guard configuration.stackSize > 0,
              configuration.stackSize <= Int(GuestLayout.stackTop - GuestLayout.nearCode.upperBound) - EmulatorPage.size else {
            throw .invalidArchitecture(name: architecture.name, reason: "stack size \(configuration.stackSize) is out of range")
        }
        self.architecture = architecture
        self.tenancy = Mutex(Tenancy(helpers: helpers))
        self.configuration = configuration
        trampolinePages = try HostPages(count: Trampolines.areaSize)
        trampolinePages.fill(with: architecture.trap)
        switch architecture.addressModel {
        case .translated:
            trampolineBase = GuestLayout.trampolines.lowerBound
            nearCode = CodeArea(range: GuestLayout.nearCode, reservation: nil)
            midCode = CodeArea(range: GuestLayout.midCode, reservation: nil)
        case .identity:
            // Trampolines, near code and middle code side by side in one host
            // reservation: the middle area starts 16 MiB after the trampolines.
            let length = Int(GuestLayout.nearCode.upperBound - GuestLayout.trampolines.lowerBound)
            let reservation = try AddressReservation(count: length + Self.midCodeLength)
            trampolineBase = reservation.address
            nearCode = CodeArea(range: reservation.address + UInt64(Trampolines.areaSize)..<reservation.address + UInt64(length),
                                reservation: reservation)
            midCode = CodeArea(range: reservation.address + UInt64(length)..<reservation.address + UInt64(length + Self.midCodeLength),
                               reservation: reservation)
        }
    }

    /// How emulated addresses relate to host addresses.
    public var addressModel: AddressModel { architecture.addressModel }

    /// The trampoline area: every helper and runtime-call address lies in it.
    public var trampolineArea: Range<UInt64> { trampolineBase..<trampolineBase + UInt64(Trampolines.areaSize) }

    /// Where the entry call returns to; reaching it ends a run.
    var exitAddress: UInt64 { trampolineBase }

    /// The native address a call to helper `id` must target. Any number is
    /// accepted; calling one the registry lacks stops the run with
    /// `ExecutionError.unknownHelper`, as in the interpreter.
    public func helperAddress(for id: Int32) throws(EmulatorError) -> UInt64 {
        guard let slot = trampolines.withLock({ $0.slot(forHelper: id) }) else {
            throw .addressSpaceExhausted("all \(Trampolines.slotCount) trampoline slots are taken")
        }
        return trampolineBase + UInt64(slot * Trampolines.slotSize)
    }

    /// The native address of a runtime call, registering it on first use
    /// (by name: later registrations under the same name get the same slot).
    public func runtimeCallAddress(for call: RuntimeCall) throws(EmulatorError) -> UInt64 {
        guard let slot = trampolines.withLock({ $0.slot(for: call) }) else {
            throw .addressSpaceExhausted("all \(Trampolines.slotCount) trampoline slots are taken")
        }
        return trampolineBase + UInt64(slot * Trampolines.slotSize)
    }

    /// Fixes the address of an image of `size` bytes before it is generated.
    public func reserveImage(size: Int, placement: ImagePlacement = .nearHelpers) throws(EmulatorError) -> ImageReservation {
        switch placement {
        case .nearHelpers:
            return try nearCode.reserve(size: size, placement: placement)
        case .farFromHelpers:
            return try farCodeArea().reserve(size: size, placement: placement)
        case .beyondShortCalls:
            return try midCode.reserve(size: size, placement: placement)
        }
    }

    /// Makes a generated image runnable at the address it was reserved for.
    ///
    /// - Parameters:
    ///   - entryOffset: where execution starts, in bytes from the image's start.
    ///   - pcMap: names BPF instructions in errors. Without one, errors name
    ///     the native byte offset into the image (-1 outside it).
    ///   - instructionLimit: default budget of native instructions per run.
    public func load(
        image: [UInt8], in reservation: ImageReservation, entryOffset: Int = 0,
        pcMap: NativePCMap? = nil, instructionLimit: UInt64 = ExecutionLimits.defaultInstructionLimit
    ) throws(EmulatorError) -> EmulatedProgram {
        guard image.count <= reservation.size else {
            throw .invalidImage("\(image.count) bytes do not fit the \(reservation.size) reserved")
        }
        return try EmulatedProgram(machine: self, image: image, address: reservation.address, entryOffset: entryOffset,
                                   pcMap: pcMap, instructionLimit: instructionLimit, reservation: reservation)
    }

    /// Makes an image runnable at an address the caller chose (for example
    /// one the program pack allocated). Under identity mapping the caller
    /// ensures no memory given to a run shares its pages; under translation
    /// it must lie in one of the machine's code areas.
    public func load(
        image: [UInt8], at address: UInt64, entryOffset: Int = 0,
        pcMap: NativePCMap? = nil, instructionLimit: UInt64 = ExecutionLimits.defaultInstructionLimit
    ) throws(EmulatorError) -> EmulatedProgram {
        let end = address.addingReportingOverflow(UInt64(image.count))
        guard !end.overflow, !trampolineArea.overlaps(address..<end.partialValue) else {
            throw .invalidImage("the image at 0x\(String(address, radix: 16)) overlaps the trampoline area")
        }
        if addressModel == .translated {
            let inArea = [GuestLayout.nearCode, GuestLayout.midCode, GuestLayout.farCode].contains {
                $0.contains(address) && end.partialValue <= $0.upperBound
            }
            guard inArea else {
                let near = String(GuestLayout.nearCode.lowerBound, radix: 16)
                let far = String(GuestLayout.farCode.lowerBound, radix: 16)
                throw .invalidImage("a 32-bit image must lie in a code area (0x\(near) or 0x\(far)); use reserveImage")
            }
        }
        return try EmulatedProgram(machine: self, image: image, address: address, entryOffset: entryOffset,
                                   pcMap: pcMap, instructionLimit: instructionLimit, reservation: nil)
    }

    /// The guest addresses a run with these regions will give them (under
    /// identity mapping, the host addresses): lets a backend relocate
    /// pointers it stores in memory before the run.
    public func guestAddressSpace(for regions: MemoryRegions) throws(EmulatorError) -> GuestAddressSpace {
        var space = GuestAddressSpace(model: addressModel)
        space.addFixed(fixedWindows)
        try space.place(regions.regions)
        return space
    }

    // MARK: Addresses compiled into code

    /// The machine's fixed windows, which every run's address space starts with.
    var fixedWindows: [GuestAddressSpace.Window] { fixed.withLock { $0.windows } }

    /// The address emulated code uses for `host`, a byte of `object`: memory
    /// that outlives the program (a map value), whose address the code holds
    /// as a constant. Under translation the machine gives the object's pages a
    /// fixed window, the same in every run (the run's regions or resolver
    /// still decide whether an access is allowed); under identity it is `host`.
    public func fixedGuestAddress(forHost host: UInt64, in object: Range<UInt64>) throws(EmulatorError) -> UInt64 {
        guard addressModel == .translated else { return host }
        let span = EmulatorPage.floor(min(host, object.lowerBound))..<EmulatorPage.ceil(max(host + 1, object.upperBound))
        let result: UInt64? = fixed.withLock { fixed in
            var space = GuestAddressSpace(model: .translated)
            space.addFixed(fixed.windows)
            for piece in space.uncovered(span) {
                let length = piece.upperBound - piece.lowerBound
                guard fixed.next + length <= GuestLayout.fixedWindows.upperBound else { return nil }
                fixed.windows.append(GuestAddressSpace.Window(host: piece.lowerBound, guest: fixed.next, length: length))
                fixed.next += length + UInt64(EmulatorPage.size)
            }
            space = GuestAddressSpace(model: .translated)
            space.addFixed(fixed.windows)
            return space.guestAddress(forHost: host)
        }
        guard let result else {
            throw .addressSpaceExhausted("the fixed guest windows (0x5000_0000-0x6000_0000) are full")
        }
        return result
    }

    /// `program` with every load `addressLoads` names (by pc) giving the
    /// guest address of its host address (`fixedGuestAddress`): what a 32-bit
    /// backend compiles, so that global variables and direct map values are
    /// reached through the machine's fixed windows. Unchanged under identity.
    public func translatingAddressLoads(in program: Program, _ addressLoads: [Int: AddressLoad]) throws(EmulatorError) -> Program {
        guard addressModel == .translated, !addressLoads.isEmpty else { return program }
        var out = program
        for (pc, load) in addressLoads.sorted(by: { $0.key < $1.key }) {
            guard pc >= 0, pc < program.count, case .loadImmediate64(let dst, .value(let host)) = program.instructions[pc] else {
                throw .invalidImage("instruction \(pc) is named as a load of a host address but is not a 64-bit immediate load")
            }
            out.replace(at: pc, with: .loadImmediate64(dst: dst, .value(try fixedGuestAddress(forHost: host, in: load.object))))
        }
        return out
    }

    // MARK: Engines

    /// Runs `body` on an engine of its own, taken from the pool (or built)
    /// and returned afterwards; images of released programs are unmapped first.
    func withEngine<R>(_ body: (EmulatorInstance) throws(ExecutionError) -> R) throws(ExecutionError) -> R {
        let engine: EmulatorInstance
        do {
            engine = try takeEngine()
        } catch {
            throw .unsupported(pc: 0, what: "an emulator engine: \(error)")
        }
        defer { giveBack(engine) }
        return try body(engine)
    }

    /// Maps a new image into an engine, so that failures surface at load time.
    func prepareEngine(for image: LoadedImage) throws(EmulatorError) {
        let engine = try takeEngine()
        defer { giveBack(engine) }
        try engine.attach(image)
    }

    /// Returns an engine to the pool, or closes it when it has mapped its
    /// lifetime's code (`Configuration.engineLifetime`).
    private func giveBack(_ engine: EmulatorInstance) {
        if configuration.engineLifetime.isSpent(images: engine.imagesMapped, imageBytes: engine.imageBytesMapped) {
            retiredEngines.withLock { $0 += 1 }
        } else {
            idleEngines.withLock { $0.append(engine) }
        }
    }

    private func takeEngine() throws(EmulatorError) -> EmulatorInstance {
        let engine: EmulatorInstance
        if let idle = idleEngines.withLock({ $0.popLast() }) {
            engine = idle
        } else {
            engine = try EmulatorInstance(machine: self)
        }
        let generation = generation
        if engine.generationSeen != generation {
            engine.startTenancy()
            engine.generationSeen = generation
        }
        // Only after a program went away is there anything to unmap.
        let retirements = images.withLock { $0.retirements }
        if engine.retirementsSeen != retirements {
            try engine.detachImages(except: images.withLock { Set($0.live.keys) })
            engine.retirementsSeen = retirements
        }
        return engine
    }

    /// Gives a new image its id and records it as live.
    func registerImage(_ make: (UInt64) throws(EmulatorError) -> LoadedImage) throws(EmulatorError) -> LoadedImage {
        let id = images.withLock { registry in
            defer { registry.next += 1 }
            return registry.next
        }
        let image = try make(id)
        images.withLock { $0.live[id] = image }
        return image
    }

    func retireImage(_ id: UInt64) {
        images.withLock { registry in
            registry.live[id] = nil
            registry.retirements += 1
        }
    }

    /// Images of programs that still exist (a released program's image is
    /// unmapped from each engine the next time the engine is taken).
    public var liveImageCount: Int { images.withLock { $0.live.count } }

    /// How many times the machine was recycled: each engine starts a new
    /// tenancy (stack zeroed, map-handle tokens forgotten) when this changes.
    var generation: UInt64 { tenancy.withLock { $0.generation } }

    /// Makes a machine whose programs are all gone serve new ones with
    /// `helpers`, keeping what is costly to build (its engines, with their
    /// trampolines, stacks and hooks) and forgetting what belonged to the
    /// old programs: their images (unmapped from each engine when it is
    /// next taken, with the code translated from them), the fixed windows
    /// their code held, and, per engine, its stack contents and map-handle
    /// tokens. The caller guarantees that nothing else refers to the
    /// machine (`EmulatedJITMachines` checks that its pool holds the only
    /// reference); with a program still loaded this throws.
    public func recycle(helpers: HelperRegistry) throws(EmulatorError) {
        guard liveImageCount == 0 else {
            throw .invalidImage("a machine with \(liveImageCount) loaded programs cannot be recycled")
        }
        fixed.withLock { $0 = FixedWindows() }
        tenancy.withLock { tenancy in
            tenancy.helpers = helpers
            tenancy.generation += 1
        }
    }

    /// Images mapped in each idle engine (tests: mappings follow the live images).
    public var mappedImageCounts: [Int] { idleEngines.withLock { $0.map(\.mappedImageCount) } }

    /// Engines closed so far because they had mapped their lifetime's code.
    public var retiredEngineCount: Int { retiredEngines.withLock { $0 } }

    /// The live image whose pages hold `address`: where a jump from one
    /// image into another (a tail call) lands.
    func liveImage(containing address: UInt64) -> LoadedImage? {
        images.withLock { registry in registry.live.values.first { $0.mappedRange.contains(address) } }
    }

    /// The far code area, created on first use: in guest space a fixed
    /// range; in host space a reservation at least 4 GiB from the trampolines.
    private func farCodeArea() throws(EmulatorError) -> CodeArea {
        let result: Result<CodeArea, EmulatorError> = farCode.withLock { area in
            if let area { return .success(area) }
            do throws(EmulatorError) {
                let created: CodeArea
                if addressModel == .translated {
                    created = CodeArea(range: GuestLayout.farCode, reservation: nil)
                } else {
                    let length = 16 << 20
                    let step: UInt64 = 4 << 30
                    let candidates = (1...16).flatMap { k -> [UInt64] in
                        let up = trampolineBase.addingReportingOverflow(step * UInt64(k))
                        let down = trampolineBase.subtractingReportingOverflow(step * UInt64(k))
                        return (up.overflow ? [] : [up.partialValue]) + (down.overflow ? [] : [down.partialValue])
                    }
                    let reservation = try AddressReservation(count: length, atOneOf: candidates)
                    created = CodeArea(range: reservation.range, reservation: reservation)
                }
                area = created
                return .success(created)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

/// Who the machine serves now.
private struct Tenancy {
    var helpers: HelperRegistry
    var generation: UInt64 = 0
}

/// The machine's fixed windows and where the next one goes.
private struct FixedWindows {
    var windows: [GuestAddressSpace.Window] = []
    var next = GuestLayout.fixedWindows.lowerBound
}

/// The machine's record of loaded images.
private struct ImageRegistry {
    var live: [UInt64: LoadedImage] = [:]
    var next: UInt64 = 1
    /// How many images have gone; engines compare it to what they last pruned at.
    var retirements: UInt64 = 0
}
