import BPFISA

/// `examples/tail_call_pipeline.c`, known without running it: the packets
/// that take each of its paths and what its entry program `pipeline` does
/// to each, written again from the C source. The kernel agrees (the loader
/// tests compare both with it where `bpf()` is permitted).
public enum TailCallPipeline {
    /// Packets for every path: IPv4 (and a TTL that runs out, a truncated
    /// header), ARP (an empty slot), 0x88b5 (the limit), other EtherTypes
    /// whose first payload byte names the slot the subprogram tail-calls
    /// (each slot, and out of range), a frame with no payload.
    public static let packets: [[UInt8]] = {
        var all = [
            TestPackets.ipv4(protocol: 6, payload: TestPackets.bytes(100)),
            TestPackets.ipv4(protocol: 17, ttl: 2, payload: TestPackets.bytes(30, seed: 5)),
            TestPackets.ethernet(0x0806, payload: TestPackets.bytes(28, seed: 9)),
            TestPackets.ethernet(0x88b5, payload: [0xbe, 0xef, 0x08, 0x00] + TestPackets.bytes(60)),
            TestPackets.ethernet(0, payload: TestPackets.bytes(120, seed: 3)),
            TestPackets.ipv4(protocol: 1, ttl: 1, payload: TestPackets.bytes(50, seed: 7)),
            TestPackets.ethernet(0x0800, payload: TestPackets.bytes(3)),
            Array(TestPackets.bytes(64, seed: 11)),
            TestPackets.ipv4(protocol: 6, payload: TestPackets.bytes(1400, seed: 2)),
        ]
        for slot in [0, 1, 2, 3, 4, 5, 6, 7, 8, 200] as [UInt8] {
            all.append(TestPackets.ethernet(0x1234, payload: [slot] + TestPackets.bytes(40, seed: slot)))
        }
        all.append(TestPackets.ethernet(0x1234, payload: []))
        return all
    }()

    /// What `pipeline` does to a packet, written again from the C source:
    /// the verdict and the packet afterwards. 33 tail calls per run; calls to
    /// empty slots do not count.
    public static func expectation(_ packet: [UInt8]) -> (UInt64, [UInt8]) {
        var out = packet
        var calls = 1                                   // pipeline -> parse
        out[11] = 1
        func ipv4() -> UInt64 {
            guard out.count >= 34 else { return 1 }
            out[11] &+= 1
            guard out[22] > 1 else { return 1 }
            out[22] -= 1
            calls += 1                                  // -> finish, from a subprogram
            out[11] &+= 1
            out[8] = 0xf1
            out[10] = 0x13                              // 0x10 + XDP_TX, back in ipv4
            return 3
        }
        func parse() -> UInt64 {
            switch (out[12], out[13]) {
            case (0x08, 0x00):
                calls += 1
                return ipv4()
            case (0x08, 0x06):
                return 2                                // empty slot: XDP_PASS
            case (0x88, 0xb5):
                let runs = 33 - calls                   // ten calls to the empty slot count nothing
                out[11] &+= UInt8(runs)
                return 2
            default:
                guard out.count >= 15 else { return 1 }
                let slot = out[14]
                func fallThrough() -> UInt64 { slot < 8 ? 0 : 2 }
                switch slot {
                case 0:                                 // parse again, from the subprogram, until the limit
                    guard calls < 33 else { return fallThrough() }
                    calls += 1
                    out[11] &+= 1
                    return parse()
                case 1:
                    calls += 1
                    return ipv4()
                case 3:
                    calls += 1
                    out[11] &+= 1
                    out[8] = 0xf1
                    return 3
                case 4:
                    out[11] &+= UInt8(33 - calls)
                    return 2
                case 5:                                 // loop_sub: each run's subprogram returns once
                    let runs = 33 - calls
                    out[11] &+= UInt8(runs)
                    out[9] &+= UInt8(runs)
                    return out[11] > 40 ? 1 : 2
                default:
                    return fallThrough()
                }
            }
        }
        return (parse(), out)
    }
}
