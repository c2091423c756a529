import BPFJIT
import BPFRuntime

extension EmulatedJITRun {
    /// The slow bounds check under the emulator, one for every emulated
    /// backend: `(context, address, info)` as the native routine takes them
    /// (`JITHostRoutines.checkAccess`), with its verdict
    /// (`JITHostRoutines.accessError`) against the BPF stack of the program
    /// whose code runs now (after a tail call the target's, of its own size)
    /// and the run's regions. A backend keeps the one it makes (a `static
    /// let`) under a name of its own.
    ///
    /// - `.identity` (64-bit targets): the context and the address are host
    ///   addresses; the machine has written the program's stores back before
    ///   the call and copies the status in after it.
    /// - `.translated` (32-bit targets): all guest values. The context and
    ///   the stack bounds in it are guest addresses; any other address must
    ///   translate to host memory one of the run's regions permits, all of
    ///   its bytes through one window, and the error names the host address
    ///   the interpreter would (`GuestAddressSpace.reportedHostAddress`, also
    ///   for an access just outside a window; windows keep alignment, so
    ///   the alignment verdict is worded with it too).
    public static func checkAccessCall(name: String, addressing: Addressing) -> RuntimeCall {
        let translated = addressing != .identity
        return RuntimeCall(name: name, argumentCount: 3) { call throws(HelperError) in
            let space = call.memory.addressSpace
            guard let contextAddress = translated ? space.hostAddress(forGuest: call.argument(1)) : call.argument(1),
                  let raw = UnsafeMutableRawPointer(bitPattern: UInt(contextAddress)) else {
                throw HelperError("the check routine was called without a run context")
            }
            let context = raw.assumingMemoryBound(to: JITRunContext.self)
            let host = context.pointee.host!.assumingMemoryBound(to: EmulatedRunHost.self)
            let address = call.argument(2), info = call.argument(3)
            let stackSize = UInt64(JITProgramInfo.current(in: context.pointee)?.stackSize ?? host.pointee.stackSize)
            var error: ExecutionError?
            if translated {
                error = JITHostRoutines.accessError(
                    address: address, info: info, stackBase: context.pointee.stackBase & 0xffff_ffff, stackSize: stackSize,
                    permits: { guest, size, write in
                        guard let start = space.hostAddress(forGuest: guest) else { return false }
                        if size > 1 {
                            guard let last = space.hostAddress(forGuest: guest + UInt64(size) - 1), last == start + UInt64(size) - 1 else {
                                return false
                            }
                        }
                        return host.pointee.regions.permits(start, size: size, write: write)
                    })
                if let found = error, let hostAddress = space.reportedHostAddress(forGuest: address) {
                    switch found {
                    case .outOfBounds(let pc, _, let size, let write):
                        error = .outOfBounds(pc: pc, address: hostAddress, size: size, write: write)
                    default:
                        error = JITHostRoutines.accessError(address: hostAddress, info: info, stackBase: 0, stackSize: 0,
                                                            permits: { _, _, _ in true }) ?? found
                    }
                }
            } else {
                error = JITHostRoutines.accessError(address: address, info: info, stackBase: context.pointee.stackBase, stackSize: stackSize,
                                                    permits: { host.pointee.regions.permits($0, size: $1, write: $2) })
            }
            guard let error else { return 0 }
            host.pointee.error = error
            context.pointee.status = UInt64(JITStatus.word(JITStatus.host, pc: Int(info >> 8)))
            return 1
        }
    }
}
