import BPFPcap

/// Packets built byte by byte for the filter tests: Ethernet (optionally
/// 802.1Q-tagged) carrying ARP, IPv4 or IPv6 with TCP, UDP or ICMP.
enum Packets {
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
    }

    static func be16(_ v: Int) -> [UInt8] { [UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }

    static func ethernet(destination: [UInt8], type: Int, vlan: Int?, payload: [UInt8]) -> [UInt8] {
        var frame = destination + [0x02, 0x00, 0x00, 0x00, 0x00, 0x01]
        if let vlan { frame += be16(0x8100) + be16(vlan) }
        return frame + be16(type) + payload
    }

    static func transport(_ proto: UInt8, source: Int, destination: Int, flags: UInt8, payload: Int) -> [UInt8] {
        switch proto {
        case 6:
            return be16(source) + be16(destination) + [0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags] + be16(8192) + [0, 0, 0, 0]
                + [UInt8](repeating: 0x41, count: payload)
        case 17:
            return be16(source) + be16(destination) + be16(8 + payload) + [0, 0] + [UInt8](repeating: 0x42, count: payload)
        default:  // ICMP echo
            return [8, 0, 0, 0, 0, 1, 0, 1] + [UInt8](repeating: 0x43, count: payload)
        }
    }

    static func ipv4(source: [UInt8], destination: [UInt8], proto: UInt8, fragmentOffset: Int, payload: [UInt8]) -> [UInt8] {
        [0x45, 0] + be16(20 + payload.count) + [0, 1] + be16(fragmentOffset) + [64, proto, 0, 0] + source + destination + payload
    }

    static func ipv6(source: [UInt8], destination: [UInt8], next: UInt8, payload: [UInt8]) -> [UInt8] {
        [0x60, 0, 0, 0] + be16(payload.count) + [next, 64] + source + destination + payload
    }

    /// `count` varied packets (a fixed seed: the same capture each time).
    static func mixed(count: Int, seed: UInt64 = 0x5eed) -> [CapturedPacket] {
        var rng = Rng(state: seed)
        let ports = [22, 53, 80, 443, 8080, 1024, 5353, 40000]
        let v4 = [[10, 0, 0, 1], [10, 1, 2, 3], [192, 168, 1, 20], [172, 16, 5, 4], [8, 8, 8, 8]].map { $0.map(UInt8.init) }
        let v6 = [[UInt8](repeating: 0, count: 15) + [1], [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [7],
                  [0xfe, 0x80] + [UInt8](repeating: 0, count: 13) + [9]]
        let macs: [[UInt8]] = [[0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [0x01, 0x00, 0x5e, 0, 0, 1], [0x02, 0, 0, 0, 0, 2]]
        var packets: [CapturedPacket] = []
        for i in 0..<count {
            let proto: UInt8 = rng.pick([6, 6, 17, 17, 1])
            let flags: UInt8 = rng.pick([0x02, 0x12, 0x10, 0x18, 0x11, 0x04])
            let l4 = transport(proto, source: rng.pick(ports), destination: rng.pick(ports), flags: flags, payload: rng.below(200))
            let vlan: Int? = rng.below(5) == 0 ? rng.pick([10, 20, 100]) : nil
            var frame: [UInt8]
            switch rng.below(10) {
            case 0:  // ARP request
                let arp: [UInt8] = be16(1) + be16(0x800) + [6, 4] + be16(1) + [2, 0, 0, 0, 0, 1] + rng.pick(v4) + [0, 0, 0, 0, 0, 0] + rng.pick(v4)
                frame = ethernet(destination: macs[0], type: 0x806, vlan: vlan, payload: arp)
            case 1, 2, 3:
                frame = ethernet(destination: rng.pick(macs), type: 0x86dd, vlan: vlan,
                                 payload: ipv6(source: rng.pick(v6), destination: rng.pick(v6), next: proto, payload: l4))
            default:
                let fragment = rng.below(12) == 0 ? 0x0010 : rng.below(12) == 0 ? 0x2000 : 0
                frame = ethernet(destination: rng.pick(macs), type: 0x800, vlan: vlan,
                                 payload: ipv4(source: rng.pick(v4), destination: rng.pick(v4), proto: proto,
                                               fragmentOffset: fragment, payload: l4))
            }
            let wire = frame.count
            // Some packets captured short (a 64-byte snapshot), some cut inside their headers.
            if rng.below(8) == 0 { frame = Array(frame.prefix(rng.pick([14, 20, 30, 40, 54, 64]))) }
            packets.append(CapturedPacket(seconds: 1_700_000_000 + i, microseconds: i * 7 % 1_000_000, bytes: frame,
                                          wireLength: UInt32(wire)))
        }
        return packets
    }
}
