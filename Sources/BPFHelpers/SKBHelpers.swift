import BPFMaps
import BPFRuntime

/// Helpers that take a tc context: they find the socket buffer behind the
/// context pointer (which must be this run's context) and work on it
/// host-side, with the kernel's argument checks and error numbers.
extension KernelHelpers {
    static func socketBuffer(_ call: borrowing HelperCall, _ helper: KernelHelper) throws(HelperError) -> SKBuff {
        let address = call.argument(1)
        guard call.memory.regions.regions.contains(where: { $0.kind == .context && $0.start == address }),
              let skb = SKBuffs.buffer(at: address) else {
            throw HelperError("\(helper.name): argument 1 (0x\(String(address, radix: 16))) is not this run's __sk_buff context")
        }
        return skb
    }

    static func result(_ value: Int64) -> UInt64 { UInt64(bitPattern: value) }

    static func skbHelpers() -> [Helper] {
        [
            helper(.skbLoadBytes) { call throws(HelperError) in
                let skb = try socketBuffer(call, .skbLoadBytes)
                let count = Int(UInt32(truncatingIfNeeded: call.argument(4)))
                guard let bytes = skb.load(offset: UInt32(truncatingIfNeeded: call.argument(2)), count: count) else {
                    // The kernel clears the destination on failure.
                    if count > 0 { try call.memory.write(Array(repeating: 0, count: count), at: call.argument(3)) }
                    return Errno.result(SKBErrno.EFAULT)
                }
                if count > 0 { try call.memory.write(bytes, at: call.argument(3)) }
                return 0
            },
            helper(.skbLoadBytesRelative) { call throws(HelperError) in
                let skb = try socketBuffer(call, .skbLoadBytesRelative)
                let count = Int(UInt32(truncatingIfNeeded: call.argument(4)))
                let start = skb.loadRelative(offset: UInt32(truncatingIfNeeded: call.argument(2)), count: count,
                                             header: UInt32(truncatingIfNeeded: call.argument(5)))
                guard start >= 0 else {
                    if count > 0 { try call.memory.write(Array(repeating: 0, count: count), at: call.argument(3)) }
                    return result(start)
                }
                if count > 0 { try call.memory.write(skb.read(at: Int(start), count: count), at: call.argument(3)) }
                return 0
            },
            helper(.skbStoreBytes) { call throws(HelperError) in
                let skb = try socketBuffer(call, .skbStoreBytes)
                let count = Int(UInt32(truncatingIfNeeded: call.argument(4)))
                let bytes = count == 0 ? [] : try call.memory.read(at: call.argument(3), count: count)
                return result(skb.store(bytes, offset: UInt32(truncatingIfNeeded: call.argument(2)), flags: call.argument(5)))
            },
            helper(.l3CsumReplace) { call throws(HelperError) in
                result(try socketBuffer(call, .l3CsumReplace).replaceChecksum(
                    offset: UInt32(truncatingIfNeeded: call.argument(2)), from: call.argument(3), to: call.argument(4),
                    flags: call.argument(5), layer4: false))
            },
            helper(.l4CsumReplace) { call throws(HelperError) in
                result(try socketBuffer(call, .l4CsumReplace).replaceChecksum(
                    offset: UInt32(truncatingIfNeeded: call.argument(2)), from: call.argument(3), to: call.argument(4),
                    flags: call.argument(5), layer4: true))
            },
            helper(.skbChangeProto) { call throws(HelperError) in
                result(try socketBuffer(call, .skbChangeProto).changeProtocol(UInt16(truncatingIfNeeded: call.argument(2)),
                                                                              flags: call.argument(3)))
            },
            helper(.skbVlanPush) { call throws(HelperError) in
                result(try socketBuffer(call, .skbVlanPush).vlanPush(UInt16(truncatingIfNeeded: call.argument(2)),
                                                                     tci: UInt16(truncatingIfNeeded: call.argument(3))))
            },
            helper(.skbVlanPop) { call throws(HelperError) in
                result(try socketBuffer(call, .skbVlanPop).vlanPop())
            },
            helper(.skbChangeTail) { call throws(HelperError) in
                result(try socketBuffer(call, .skbChangeTail).changeTail(UInt32(truncatingIfNeeded: call.argument(2)),
                                                                         flags: call.argument(3)))
            },
            helper(.skbChangeHead) { call throws(HelperError) in
                result(try socketBuffer(call, .skbChangeHead).changeHead(UInt32(truncatingIfNeeded: call.argument(2)),
                                                                         flags: call.argument(3)))
            },
            helper(.skbPullData) { call throws(HelperError) in
                result(try socketBuffer(call, .skbPullData).pullData(UInt32(truncatingIfNeeded: call.argument(2))))
            },
            helper(.skbAdjustRoom) { call throws(HelperError) in
                result(try socketBuffer(call, .skbAdjustRoom).adjustRoom(
                    Int32(truncatingIfNeeded: call.argument(2)), mode: UInt32(truncatingIfNeeded: call.argument(3)),
                    flags: call.argument(4)))
            },
            helper(.getHashRecalc) { call throws(HelperError) in
                UInt64(try socketBuffer(call, .getHashRecalc).hashRecalc())
            },
            helper(.setHashInvalid) { call throws(HelperError) in
                try socketBuffer(call, .setHashInvalid).setHash(0)
                return 0
            },
            helper(.setHash) { call throws(HelperError) in
                try socketBuffer(call, .setHash).setHash(UInt32(truncatingIfNeeded: call.argument(2)))
                return 0
            },
            helper(.csumUpdate) { call throws(HelperError) in
                // Only a CHECKSUM_COMPLETE buffer has a checksum to update; a test run's has none.
                _ = try socketBuffer(call, .csumUpdate)
                return result(SKBuff.notSupported)
            },
            helper(.skbSetTunnelKey) { call throws(HelperError) in
                let skb = try socketBuffer(call, .skbSetTunnelKey)
                let size = Int(UInt32(truncatingIfNeeded: call.argument(3)))
                let key = size == 0 ? [] : try call.memory.read(at: call.argument(2), count: size)
                return result(skb.setTunnelKey(key, flags: call.argument(4)))
            },
            helper(.skbChangeType) { call throws(HelperError) in
                result(try socketBuffer(call, .skbChangeType).changeType(UInt32(truncatingIfNeeded: call.argument(2))))
            },
            helper(.csumLevel) { call throws(HelperError) in
                result(try socketBuffer(call, .csumLevel).checksumLevel(call.argument(2)))
            },
            helper(.getCgroupClassid) { call throws(HelperError) in
                // No net_cls cgroup: the classid is 0.
                _ = try socketBuffer(call, .getCgroupClassid)
                return 0
            },
        ]
    }
}
