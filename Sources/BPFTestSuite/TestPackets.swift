/// Packet builders the tests of every engine share: Ethernet frames from
/// 0a:0b:0c:0d:0e:0f to 01:02:03:04:05:06, IPv4 packets with a correct
/// header checksum, and filler bytes.
public enum TestPackets {
    public static let source: [UInt8] = [0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f]
    public static let destination: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06]

    public static func ethernet(_ ethertype: UInt16, payload: [UInt8]) -> [UInt8] {
        destination + source + [UInt8(ethertype >> 8), UInt8(ethertype & 0xff)] + payload
    }

    /// An IPv4 packet with a correct header checksum.
    public static func ipv4(protocol proto: UInt8, ttl: UInt8 = 64, payload: [UInt8]) -> [UInt8] {
        var header: [UInt8] = [0x45, 0, 0, 0, 0x12, 0x34, 0, 0, ttl, proto, 0, 0, 192, 168, 1, 10, 10, 0, 0, 1]
        let total = header.count + payload.count
        header[2] = UInt8(total >> 8); header[3] = UInt8(total & 0xff)
        let sum = checksum(header)
        header[10] = UInt8(sum >> 8); header[11] = UInt8(sum & 0xff)
        return ethernet(0x0800, payload: header + payload)
    }

    /// The Internet checksum of big-endian 16-bit words.
    public static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        for i in stride(from: 0, to: bytes.count, by: 2) {
            sum += UInt32(bytes[i]) << 8 | UInt32(i + 1 < bytes.count ? bytes[i + 1] : 0)
        }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }

    /// `count` bytes of a simple pattern that `seed` varies.
    public static func bytes(_ count: Int, seed: UInt8 = 1) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed)) }
    }
}
