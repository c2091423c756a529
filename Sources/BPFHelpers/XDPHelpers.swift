import BPFMaps
import BPFRuntime

/// Helpers that take an XDP context: they find the frame behind the context
/// pointer (which must be this run's context region) and change it host-side.
extension KernelHelpers {
    static func frame(_ call: borrowing HelperCall, _ helper: KernelHelper) throws(HelperError) -> XDPFrame {
        let address = call.argument(1)
        guard call.memory.regions.regions.contains(where: { $0.kind == .context && $0.start == address }),
              let frame = XDPFrames.frame(at: address) else {
            throw HelperError("\(helper.name): argument 1 (0x\(String(address, radix: 16))) is not this run's XDP context")
        }
        return frame
    }

    static func xdpHelpers() -> [Helper] {
        [
            helper(.xdpAdjustHead) { call throws(HelperError) in
                UInt64(bitPattern: try frame(call, .xdpAdjustHead).adjustHead(Int32(truncatingIfNeeded: call.argument(2))))
            },
            helper(.xdpAdjustTail) { call throws(HelperError) in
                UInt64(bitPattern: try frame(call, .xdpAdjustTail).adjustTail(Int32(truncatingIfNeeded: call.argument(2))))
            },
            helper(.xdpAdjustMeta) { call throws(HelperError) in
                UInt64(bitPattern: try frame(call, .xdpAdjustMeta).adjustMeta(Int32(truncatingIfNeeded: call.argument(2))))
            },
            helper(.xdpGetBuffLen) { call throws(HelperError) in
                let frame = try frame(call, .xdpGetBuffLen)
                return frame.dataEnd - frame.data
            },
            helper(.xdpLoadBytes) { call throws(HelperError) in
                let frame = try frame(call, .xdpLoadBytes)
                let length = Int(UInt32(truncatingIfNeeded: call.argument(4)))
                guard let at = frame.packetRange(offset: UInt32(truncatingIfNeeded: call.argument(2)), length: length) else {
                    return Errno.result(Errno.EINVAL)
                }
                try call.memory.write(frame.read(at: at, count: length), at: call.argument(3))
                return 0
            },
            helper(.xdpStoreBytes) { call throws(HelperError) in
                let frame = try frame(call, .xdpStoreBytes)
                let length = Int(UInt32(truncatingIfNeeded: call.argument(4)))
                guard let at = frame.packetRange(offset: UInt32(truncatingIfNeeded: call.argument(2)), length: length) else {
                    return Errno.result(Errno.EINVAL)
                }
                frame.write(try call.memory.read(at: call.argument(3), count: length), at: at)
                return 0
            },
        ]
    }
}
