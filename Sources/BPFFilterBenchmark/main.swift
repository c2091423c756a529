// Classic filters on BPFKit's engines against libpcap's own interpreter
// (pcap_offline_filter): packets per second over the same packets, the
// median of several rounds, each round one pass per engine in turn.
//
//     swift run -c release BPFFilterBenchmark [CAPTURE.pcap] [--rounds N]
//
// Without a capture, 10,000 synthetic Ethernet frames (IPv4/IPv6, TCP/UDP/ICMP,
// some VLAN-tagged, 60 to 1,514 bytes) are used.
import BPFClassic
import BPFInterpreter
import BPFJITX86_64
import BPFPcap
import BPFRuntime
import Foundation

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
}

func be16(_ v: Int) -> [UInt8] { [UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }

func synthetic(count: Int) -> [CapturedPacket] {
    var rng = Rng(state: 1)
    let ports = [22, 53, 80, 443, 8080, 40000]
    return (0..<count).map { _ in
        let proto: UInt8 = [6, 6, 6, 17, 1][rng.below(5)]
        let payload = [UInt8](repeating: 0x41, count: [6, 100, 512, 1400][rng.below(4)])
        var l4: [UInt8]
        if proto == 6 {
            l4 = be16(ports[rng.below(6)]) + be16(ports[rng.below(6)]) + [0, 0, 0, 1, 0, 0, 0, 0, 0x50, [0x02, 0x10, 0x18][rng.below(3)], 0x20, 0, 0, 0, 0, 0]
        } else if proto == 17 {
            l4 = be16(ports[rng.below(6)]) + be16(ports[rng.below(6)]) + be16(8 + payload.count) + [0, 0]
        } else {
            l4 = [8, 0, 0, 0, 0, 1, 0, 1]
        }
        l4 += payload
        var frame: [UInt8] = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1]
        if rng.below(6) == 0 { frame += be16(0x8100) + be16(10) }
        if rng.below(4) == 0 {
            frame += be16(0x86dd) + [0x60, 0, 0, 0] + be16(l4.count) + [proto, 64] + [UInt8](repeating: 0x20, count: 32)
        } else {
            let src: [UInt8] = [[10, 0, 0, 1], [192, 168, 1, 2], [172, 16, 0, 9]][rng.below(3)]
            frame += be16(0x800) + [0x45, 0] + be16(20 + l4.count) + [0, 1, 0, 0, 64, proto, 0, 0] + src + [10, 9, 8, 7]
        }
        frame += l4
        return CapturedPacket(bytes: frame)
    }
}

var arguments = Array(CommandLine.arguments.dropFirst())
var rounds = 11
if let i = arguments.firstIndex(of: "--rounds"), i + 1 < arguments.count, let n = Int(arguments[i + 1]) {
    rounds = n
    arguments.removeSubrange(i...(i + 1))
}
let packets: [CapturedPacket]
var linkType = LinkType.ethernet
if let path = arguments.first {
    let reader = try CaptureReader(path: path)
    linkType = reader.linkType
    packets = try reader.readAll()
} else {
    packets = synthetic(count: 10_000)
}
let metadata = packets.map { PacketMetadata.forCapture($0, linkType: linkType) }

let expressions = [
    "ip", "tcp port 80", "net 10.0.0.0/8 and tcp", "tcp[tcpflags] & tcp-syn != 0", "vlan and tcp port 443",
    "(tcp port 80 or udp port 53) and not net 192.168.0.0/16", "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x41414141",
]

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

print("\(packets.count) packets, \(rounds) rounds; packets/s, median (millions)")
print("expression".padding(toLength: 58, withPad: " ", startingAt: 0) + "  cBPF  eBPF   libpcap  interpreter   x86-64 JIT  JIT/libpcap")
for expression in expressions {
    let compiled = try FilterExpression(expression, linkType: linkType)
    let interpreter = try ClassicFilter(compiled.program, engine: Interpreter())
    let jit = try ClassicFilter(compiled.program, engine: X86_64JIT())
    // Agreement first: every engine answers as libpcap does.
    for (i, packet) in packets.enumerated() {
        let reference = compiled.offlineFilter(packet)
        guard try interpreter.run(packet.bytes, metadata: metadata[i]) == reference,
              try jit.run(packet.bytes, metadata: metadata[i]) == reference else {
            fatalError("'\(expression)': packet \(i + 1) differs from libpcap")
        }
    }
    var samples: [[Double]] = [[], [], []]
    for _ in 0..<rounds {
        var sink: UInt32 = 0
        var start = ContinuousClock.now
        for packet in packets { sink &+= compiled.offlineFilter(packet) }
        samples[0].append(Double(packets.count) / (ContinuousClock.now - start).seconds)
        start = ContinuousClock.now
        for (i, packet) in packets.enumerated() { sink &+= try interpreter.run(packet.bytes, metadata: metadata[i]) }
        samples[1].append(Double(packets.count) / (ContinuousClock.now - start).seconds)
        start = ContinuousClock.now
        for (i, packet) in packets.enumerated() { sink &+= try jit.run(packet.bytes, metadata: metadata[i]) }
        samples[2].append(Double(packets.count) / (ContinuousClock.now - start).seconds)
        if sink == 0xdead_beef { print("") }
    }
    let m = samples.map(median)
    func mpps(_ v: Double) -> String { String(format: "%10.2f", v / 1e6) }
    print(expression.padding(toLength: 58, withPad: " ", startingAt: 0)
          + String(format: "%6d%6d", compiled.program.instructions.count, jit.program.instructions.count)
          + mpps(m[0]) + "  " + mpps(m[1]) + "  " + mpps(m[2]) + String(format: "%12.2fx", m[2] / m[0]))
}

// Where a BPFKit packet's time goes: filling the run's buffer and context alone.
do {
    let run = SocketFilterRun(capacity: 65_536)
    var samples: [Double] = []
    for _ in 0..<rounds {
        let start = ContinuousClock.now
        for (i, packet) in packets.enumerated() { run.load(packet.bytes, metadata: metadata[i]) }
        samples.append((ContinuousClock.now - start).seconds * 1e9 / Double(packets.count))
    }
    print(String(format: "filling the run's packet buffer and context alone: %.1f ns a packet (median)", median(samples)))
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
