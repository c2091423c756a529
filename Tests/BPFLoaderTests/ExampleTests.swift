import BPFHelpers
import BPFLoader
import BPFMaps
import BPFRuntime
import Foundation
import Testing

/// The C examples, compiled for cpu v3 and v4, on every engine, against
/// expectations computed here from what the C source says.
@Suite(.enabled(if: Clang.available, "clang, <linux/bpf.h> and <bpf/bpf_helpers.h> are needed to build the examples"))
struct ExampleTests {
    static let cpus = ["v3", "v4"]

    func load(_ name: String, cpu: String) throws -> LoadedObject {
        try LoadedObject(bytes: Clang.object(examplesDirectory.appendingPathComponent("\(name).c"), cpu: cpu))
    }

    @Test(arguments: cpus)
    func protocolCounter(cpu: String) throws {
        for engine in engines {
            let object = try load("xdp_proto_count", cpu: cpu)
            let program = try object.program(section: "xdp")
            let tcp = Packets.ipv4(protocol: 6, payload: Packets.bytes(30))
            let udp = Packets.ipv4(protocol: 17, payload: Packets.bytes(10))
            let arp = Packets.ethernet(0x0806, payload: Packets.bytes(28))
            for packet in [tcp, udp, tcp, arp, tcp] {
                let (value, output) = try run(program, on: engine, input: packet)
                #expect(value == 2, "XDP_PASS on \(engine.name)")
                #expect(output == packet)
            }
            #expect(try run(program, on: engine, input: Packets.ethernet(0x0800, payload: [0x45, 0])).0 == 1, "truncated IPv4 header: XDP_DROP")
            let counts = try #require(object.map(named: "protocol_counts"))
            #expect(try counts.lookup(key: le32(6)) == le64(3) + le64(UInt64(3 * tcp.count)))
            #expect(try counts.lookup(key: le32(17)) == le64(1) + le64(UInt64(udp.count)))
            #expect(try counts.lookup(key: le32(0x10806)) == le64(1) + le64(UInt64(arp.count)))
            #expect(counts.keys().count == 3)
        }
    }

    @Test(arguments: cpus)
    func macSwapperReflectsWithAValidChecksum(cpu: String) throws {
        for engine in engines {
            let program = try load("xdp_swap_mac", cpu: cpu).program(named: "swap_mac")
            let packet = Packets.ipv4(protocol: 17, ttl: 9, payload: Packets.bytes(16))
            let (value, out) = try run(program, on: engine, input: packet)
            #expect(value == 3, "XDP_TX")
            #expect(Array(out[0..<6]) == Packets.source && Array(out[6..<12]) == Packets.destination)
            #expect(Array(out[26..<30]) == Array(packet[30..<34]) && Array(out[30..<34]) == Array(packet[26..<30]))
            #expect(out[22] == 8, "TTL decremented")
            #expect(Packets.checksum(Array(out[14..<34])) == 0, "header checksum verifies")
            #expect(Array(out[34...]) == Array(packet[34...]))
            #expect(try run(program, on: engine, input: Packets.ethernet(0x86dd, payload: Packets.bytes(40))).0 == 2)
            #expect(try run(program, on: engine, input: Packets.ipv4(protocol: 6, ttl: 1, payload: [])).0 == 1)
        }
    }

    /// What `global_data.c` computes, written again in Swift.
    static func globalDataExpectation(_ packet: [UInt8], number: UInt32) -> (value: UInt64, output: [UInt8]) {
        let payload = Array(packet[14...])
        var sum: UInt32 = 0
        for i in 0..<64 where i * 3 < payload.count { sum += UInt32(payload[i * 3]) }
        guard payload.count >= 8 else { return (2, packet) }
        var out = packet
        out.replaceSubrange(14..<22, with: Array("BPFK".utf8) + [UInt8(number >> 24), UInt8(number >> 16 & 0xff), UInt8(number >> 8 & 0xff), UInt8(number & 0xff)])
        return (UInt64((sum &* 31 &+ number &+ 1) & 0xffff), out)
    }

    @Test(arguments: cpus)
    func globalDataAndSubprograms(cpu: String) throws {
        for engine in engines {
            let traces = Collected()
            let object = try LoadedObject(bytes: Clang.object(examplesDirectory.appendingPathComponent("global_data.c"), cpu: cpu),
                                          options: LoadOptions(trace: { traces.append($0) }))
            #expect(Set(object.object.maps.map(\.name)) == [".data", ".rodata", ".bss", ".rodata.str1.1"])
            let program = try object.program()
            #expect(program.name == "global_data")
            var number: UInt32 = 100
            var seen: UInt64 = 0
            for packet in [Packets.ipv4(protocol: 6, payload: Packets.bytes(100)), Packets.ethernet(0x1234, payload: Packets.bytes(5)),
                           Packets.ethernet(0x1234, payload: Packets.bytes(300, seed: 9))] {
                let expected = Self.globalDataExpectation(packet, number: number)
                let (value, out) = try run(program, on: engine, input: packet)
                #expect(value == expected.value && out == expected.output, "\(engine.name), \(packet.count) bytes")
                if packet.count >= 22 { #expect(traces.items.last?.hasPrefix("packet \(number) sum ") == true) }
                number += 1
                seen += UInt64(packet.count)
            }
            #expect(try object.map(named: ".data")?.lookup(key: le32(0)) == le32(number))
            #expect(try object.map(named: ".bss")?.lookup(key: le32(0)).le64(at: 0) == seen)
        }
    }

    @Test(arguments: cpus)
    func ringBufferEvents(cpu: String) throws {
        for engine in engines {
            let object = try load("ringbuf_events", cpu: cpu)
            let program = try object.program()
            let ring = try #require(object.map(named: "events") as? RingBuffer)
            let small = Packets.ipv4(protocol: 17, payload: Packets.bytes(8))
            let large = Packets.ipv4(protocol: 6, payload: Packets.bytes(120))
            let discarded = Packets.ethernet(0, payload: Packets.bytes(20))
            #expect(try run(program, on: engine, input: small).0 == 2)
            #expect(try run(program, on: engine, input: discarded).0 == 1)
            #expect(try run(program, on: engine, input: large).0 == 2)
            let records = ring.consume()
            #expect(records.count == 3)
            func event(_ packet: [UInt8]) -> [UInt8] { le32(UInt32(packet.count)) + [packet[13], packet[12]] + Array(packet[0..<10]) }
            #expect(records[0] == event(small))
            #expect(records[1] == event(large))
            #expect(records[2] == Array(large[0..<32]))
        }
    }

    /// What `atomics.c` computes, written again in Swift: (return value, output, cell, total, flags).
    struct AtomicsState { var cell: UInt64 = 0, total: UInt64 = 5, flags: UInt32 = 0 }
    static func atomicsExpectation(_ packet: [UInt8], _ s: inout AtomicsState) -> (UInt64, [UInt8]) {
        let input = packet.le64(at: 14)
        var results: [UInt64] = []
        results.append(s.cell); s.cell &+= input
        results.append(s.cell); s.cell |= 0xf0
        results.append(s.cell); s.cell &= ~3
        results.append(s.cell); s.cell ^= 0xff00
        results.append(s.total); s.total = s.cell
        results.append(s.total); if s.total == s.cell { s.total = 77 }
        results.append(s.total); if s.total == 12345 { s.total = 88 }
        results.append(UInt64(s.flags)); s.flags |= UInt32(truncatingIfNeeded: input)
        s.total &+= 1
        var out = packet
        out.replaceSubrange(14..<78, with: results.flatMap(le64))
        return (UInt64(UInt32(truncatingIfNeeded: s.total)), out)
    }

    @Test(arguments: cpus)
    func atomicsOnMapValuesAndGlobals(cpu: String) throws {
        for engine in engines {
            let object = try load("atomics", cpu: cpu)
            let program = try object.program()
            var state = AtomicsState()
            for seed in [UInt8(3), 200, 17] {
                let packet = Packets.ethernet(0x0800, payload: Packets.bytes(70, seed: seed))
                let expected = Self.atomicsExpectation(packet, &state)
                let (value, out) = try run(program, on: engine, input: packet)
                #expect(value == expected.0 && out == expected.1, "\(engine.name) cpu \(cpu)")
            }
            #expect(try object.map(named: "cells")?.lookup(key: le32(1)) == le64(state.cell))
            #expect(try run(program, on: engine, input: Packets.ethernet(0x0800, payload: Packets.bytes(20))).0 == 1, "too short: XDP_DROP")
        }
    }

    /// What `xdp_adjust.c` computes.
    static func adjustExpectation(_ packet: [UInt8]) -> [UInt8] {
        var out: [UInt8]
        if packet[12] == 0x88, packet[13] == 0xb5 {
            out = Array(packet[0..<12]) + Array(packet[16..<18]) + Array(packet[18...])
        } else {
            out = Array(packet[0..<12]) + [0x88, 0xb5, 0xbe, 0xef, packet[12], packet[13]] + Array(packet[14...])
        }
        if out.count > 64 { out.removeLast(2) } else { out += Array(repeating: 0, count: 6) }
        return out
    }

    @Test(arguments: cpus)
    func adjustHeadAndTail(cpu: String) throws {
        for engine in engines {
            let program = try load("xdp_adjust", cpu: cpu).program()
            for packet in [Packets.ipv4(protocol: 6, payload: Packets.bytes(60)), Packets.ethernet(0x0806, payload: Packets.bytes(10)),
                           Packets.ethernet(0x88b5, payload: [0xbe, 0xef, 0x08, 0x00] + Packets.bytes(70))] {
                let (value, out) = try run(program, on: engine, input: packet)
                #expect(value == 3)
                #expect(out == Self.adjustExpectation(packet), "\(engine.name) cpu \(cpu) \(packet.count) bytes")
            }
        }
    }

    /// Examples without fetching atomics also build for cpu v1 and v2 (no JMP32, no
    /// fetch forms) and must give the same results as their v3 build.
    @Test(arguments: ["xdp_proto_count", "xdp_swap_mac", "global_data", "ringbuf_events", "xdp_adjust"])
    func olderCPUVersionsAgree(name: String) throws {
        let packets = [Packets.ipv4(protocol: 17, payload: Packets.bytes(90)), Packets.ethernet(0x0806, payload: Packets.bytes(30)),
                       Packets.ethernet(0x88b5, payload: [1, 2, 8, 0] + Packets.bytes(40))]
        for engine in engines {
            var results: [String: [(UInt64, [UInt8])]] = [:]
            for cpu in ["v1", "v2", "v3"] {
                let program = try load(name, cpu: cpu).program()
                results[cpu] = try packets.map { try run(program, on: engine, input: $0) }
            }
            for cpu in ["v1", "v2"] {
                #expect(results[cpu]!.map(\.0) == results["v3"]!.map(\.0) && results[cpu]!.map(\.1) == results["v3"]!.map(\.1),
                        "\(name) -mcpu=\(cpu) on \(engine.name)")
            }
        }
    }
}
