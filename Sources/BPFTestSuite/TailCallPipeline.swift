import BPFISA

/// `examples/tail_call_pipeline.c`, known without running it: the packets
/// that take each of its paths and what its entry program `pipeline` does
/// to each, written again from the C source. The kernel agrees (the loader
/// tests compare both with it where `bpf()` is permitted).
public enum TailCallPipeline {
    /// An Ethernet frame from 0a:0b:0c:0d:0e:0f to 01:02:03:04:05:06.
    public static func ethernet(_ type: UInt16, payload: [UInt8]) -> [UInt8] {
        [1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 15, UInt8(type >> 8), UInt8(type & 0xff)] + payload
    }

    /// An IPv4 packet with a correct header checksum.
    public static func ipv4(protocol proto: UInt8, ttl: UInt8 = 64, payload: [UInt8]) -> [UInt8] {
        var header: [UInt8] = [0x45, 0, 0, 0, 0x12, 0x34, 0, 0, ttl, proto, 0, 0, 192, 168, 1, 10, 10, 0, 0, 1]
        let total = header.count + payload.count
        header[2] = UInt8(total >> 8); header[3] = UInt8(total & 0xff)
        var sum: UInt32 = 0
        for i in stride(from: 0, to: header.count, by: 2) { sum += UInt32(header[i]) << 8 | UInt32(header[i + 1]) }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        header[10] = UInt8(~sum >> 8 & 0xff); header[11] = UInt8(~sum & 0xff)
        return ethernet(0x0800, payload: header + payload)
    }

    public static func bytes(_ count: Int, seed: UInt8 = 1) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed)) }
    }

    /// Packets for every path: IPv4 (and a TTL that runs out, a truncated
    /// header), ARP (an empty slot), 0x88b5 (the limit), other EtherTypes
    /// whose first payload byte names the slot the subprogram tail-calls
    /// (each slot, and out of range), a frame with no payload.
    public static let packets: [[UInt8]] = {
        var all = [
            ipv4(protocol: 6, payload: bytes(100)),
            ipv4(protocol: 17, ttl: 2, payload: bytes(30, seed: 5)),
            ethernet(0x0806, payload: bytes(28, seed: 9)),
            ethernet(0x88b5, payload: [0xbe, 0xef, 0x08, 0x00] + bytes(60)),
            ethernet(0, payload: bytes(120, seed: 3)),
            ipv4(protocol: 1, ttl: 1, payload: bytes(50, seed: 7)),
            ethernet(0x0800, payload: bytes(3)),
            Array(bytes(64, seed: 11)),
            ipv4(protocol: 6, payload: bytes(1400, seed: 2)),
        ]
        for slot in [0, 1, 2, 3, 4, 5, 6, 7, 8, 200] as [UInt8] {
            all.append(ethernet(0x1234, payload: [slot] + bytes(40, seed: slot)))
        }
        all.append(ethernet(0x1234, payload: []))
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
