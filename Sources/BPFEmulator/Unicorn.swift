import CUnicorn

/// Access rights of an emulated mapping.
struct EmulatedProtection: OptionSet, Hashable {
    let rawValue: UInt32

    static let read = EmulatedProtection(rawValue: UC_PROT_READ.rawValue)
    static let write = EmulatedProtection(rawValue: UC_PROT_WRITE.rawValue)
    static let execute = EmulatedProtection(rawValue: UC_PROT_EXEC.rawValue)
}

/// One Unicorn instance: the only type that holds a `uc_engine` pointer.
///
/// Unicorn instances are not thread-safe; each `UnicornHandle` is owned by one
/// `EmulatorInstance`, which a run uses exclusively. Every call that can fail
/// returns a typed error naming the operation.
final class UnicornHandle {
    let engine: OpaquePointer
    let wordSize: Int
    private var hooks: [uc_hook] = []

    init(cpu: UnicornCPU, wordSize: Int) throws(EmulatorError) {
        var engine: OpaquePointer?
        try Self.check(uc_open(uc_arch(rawValue: cpu.architecture), uc_mode(rawValue: cpu.mode), &engine), "uc_open")
        guard let engine else { throw .unicorn(operation: "uc_open", code: 0, message: "no engine returned") }
        self.engine = engine
        self.wordSize = wordSize
        if let model = cpu.model {
            // Must precede every other call: the CPU is created lazily on first use.
            try Self.check(bpfkit_uc_set_cpu_model(engine, model), "set CPU model \(model)")
        }
    }

    deinit {
        for hook in hooks { uc_hook_del(engine, hook) }
        uc_close(engine)
    }

    static func check(_ code: uc_err, _ operation: @autoclosure () -> String) throws(EmulatorError) {
        guard code != UC_ERR_OK else { return }
        throw .unicorn(operation: operation(), code: code.rawValue, message: String(cString: uc_strerror(code)))
    }

    // MARK: Memory

    /// Maps host memory the caller owns at `address`; it must outlive the mapping.
    func map(_ address: UInt64, count: Int, _ protection: EmulatedProtection,
             host: UnsafeMutableRawPointer) throws(EmulatorError) {
        try Self.check(uc_mem_map_ptr(engine, address, count, protection.rawValue, host),
                       "map \(count) bytes at 0x\(String(address, radix: 16))")
    }

    func unmap(_ address: UInt64, count: Int) throws(EmulatorError) {
        try Self.check(uc_mem_unmap(engine, address, count), "unmap \(count) bytes at 0x\(String(address, radix: 16))")
    }

    func protect(_ address: UInt64, count: Int, _ protection: EmulatedProtection) throws(EmulatorError) {
        try Self.check(uc_mem_protect(engine, address, count, protection.rawValue),
                       "protect \(count) bytes at 0x\(String(address, radix: 16))")
    }

    /// Reads `count` bytes of emulated memory; nil where nothing is mapped.
    func readMemory(_ address: UInt64, count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        let code = bytes.withUnsafeMutableBytes { uc_mem_read(engine, address, $0.baseAddress, count) }
        return code == UC_ERR_OK ? bytes : nil
    }

    // MARK: Registers

    /// Reads a register, zero-extended to 64 bits.
    func read(_ register: EmulatedRegister) -> UInt64 {
        if wordSize == 4 {
            var value: UInt32 = 0
            uc_reg_read(engine, register.unicornID, &value)
            return UInt64(value)
        }
        var value: UInt64 = 0
        uc_reg_read(engine, register.unicornID, &value)
        return value
    }

    /// Writes a register; on 32-bit targets only the low 32 bits are kept.
    func write(_ register: EmulatedRegister, _ value: UInt64) {
        if wordSize == 4 {
            var word = UInt32(truncatingIfNeeded: value)
            uc_reg_write(engine, register.unicornID, &word)
        } else {
            var value = value
            uc_reg_write(engine, register.unicornID, &value)
        }
    }

    // MARK: Running

    /// Emulates from `begin` until the program counter reaches `until`, a
    /// hook stops it, or a fault does.
    func start(at begin: UInt64, until: UInt64) -> uc_err {
        uc_emu_start(engine, begin, until, 0, 0)
    }

    /// Asks a running emulation to stop (from a hook).
    func stop() {
        uc_emu_stop(engine)
    }

    // MARK: Hooks

    /// Installs the C code hook (counting and trampoline dispatch) over every
    /// address; `CodeHook` owns its state.
    func hookInstructions(_ counter: UnsafeMutablePointer<bpfkit_instruction_counter>) throws(EmulatorError) {
        var hook: uc_hook = 0
        try Self.check(bpfkit_uc_hook_instructions(engine, &hook, counter), "add code hook")
        hooks.append(hook)
    }

    /// Drops code translated from `range`, which now holds other instructions.
    func invalidateCode(_ range: ClosedRange<UInt64>) throws(EmulatorError) {
        try Self.check(bpfkit_uc_remove_cache(engine, range.lowerBound, range.upperBound &+ 1), "drop translated code")
    }

    func hookInvalidMemory(context: UnsafeMutableRawPointer, _ callback: uc_cb_eventmem_t) throws(EmulatorError) {
        var hook: uc_hook = 0
        try Self.check(bpfkit_uc_hook_memory_invalid(engine, &hook, callback, context), "add memory hook")
        hooks.append(hook)
    }

    func hookInterrupt(context: UnsafeMutableRawPointer, _ callback: uc_cb_hookintr_t) throws(EmulatorError) {
        var hook: uc_hook = 0
        try Self.check(bpfkit_uc_hook_interrupt(engine, &hook, callback, context), "add interrupt hook")
        hooks.append(hook)
    }

    func hookInvalidInstruction(context: UnsafeMutableRawPointer, _ callback: uc_cb_hookinsn_invalid_t) throws(EmulatorError) {
        var hook: uc_hook = 0
        try Self.check(bpfkit_uc_hook_invalid_instruction(engine, &hook, callback, context), "add invalid-instruction hook")
        hooks.append(hook)
    }
}
