import BPFHelpers
import BPFInterpreter
import BPFISA
import BPFLoader
import BPFMaps
import BPFRuntime
import Foundation
import Testing

/// Objects built with `clang -target bpfeb` on the big-endian interpreter:
/// what a big-endian machine computes. The expectations come from the C
/// source (as in `ExampleTests`), with every integer the program keeps in
/// memory (map keys and values, global data) in big-endian order; the packet
/// bytes are network order on both.
@Suite(.enabled(if: Clang.available, "clang, <linux/bpf.h> and <bpf/bpf_helpers.h> are needed to build the examples"))
struct BigEndianObjectTests {
    let bigEndian = Interpreter(byteOrder: .big)

    func load(_ name: String, cpu: String = "v3", target: String = "bpfeb", trace: @escaping @Sendable (String) -> Void = { _ in })
        throws -> LoadedObject {
        try LoadedObject(bytes: Clang.object(examplesDirectory.appendingPathComponent("\(name).c"), cpu: cpu, target: target),
                         options: LoadOptions(trace: trace))
    }

    func be32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }
    func be64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }

    /// The XDP context's packet pointers are read big-endian, the protocol
    /// (network order in the packet) is compared with `bpf_htons` constants,
    /// and the counts land in the hash map as big-endian keys and values.
    @Test(arguments: ["v3", "v4"])
    func protocolCounter(cpu: String) throws {
        let object = try load("xdp_proto_count", cpu: cpu)
        #expect(object.object.byteOrder == .big)
        let program = try object.program(section: "xdp")
        #expect(program.byteOrder == .big)
        let tcp = Packets.ipv4(protocol: 6, payload: Packets.bytes(30))
        let udp = Packets.ipv4(protocol: 17, payload: Packets.bytes(10))
        let arp = Packets.ethernet(0x0806, payload: Packets.bytes(28))
        for packet in [tcp, udp, tcp, arp, tcp] {
            let (value, output) = try run(program, on: bigEndian, input: packet)
            #expect(value == 2, "XDP_PASS")
            #expect(output == packet)
        }
        #expect(try run(program, on: bigEndian, input: Packets.ethernet(0x0800, payload: [0x45, 0])).0 == 1, "truncated IPv4 header: XDP_DROP")
        let counts = try #require(object.map(named: "protocol_counts"))
        #expect(try counts.lookup(key: be32(6)) == be64(3) + be64(UInt64(3 * tcp.count)))
        #expect(try counts.lookup(key: be32(17)) == be64(1) + be64(UInt64(udp.count)))
        #expect(try counts.lookup(key: be32(0x10806)) == be64(1) + be64(UInt64(arp.count)))
        #expect(counts.keys().count == 3)
    }

    /// Global data (.rodata, .data with an initial value, .bss) keeps the
    /// object's big-endian bytes and is read and updated big-endian;
    /// subprograms and `bpf_trace_printk` arguments work as on little endian.
    @Test(arguments: ["v3", "v4"])
    func globalData(cpu: String) throws {
        let traces = Collected()
        let object = try load("global_data", cpu: cpu, trace: { traces.append($0) })
        #expect(try object.map(named: ".data")?.lookup(key: le32(0)) == be32(100), "the initial value, as the object holds it")
        let program = try object.program()
        var number: UInt32 = 100
        var seen: UInt64 = 0
        for packet in [Packets.ipv4(protocol: 6, payload: Packets.bytes(100)), Packets.ethernet(0x1234, payload: Packets.bytes(5)),
                       Packets.ethernet(0x1234, payload: Packets.bytes(300, seed: 9))] {
            let expected = ExampleTests.globalDataExpectation(packet, number: number)
            let (value, out) = try run(program, on: bigEndian, input: packet)
            #expect(value == expected.value && out == expected.output, "\(packet.count) bytes")
            if packet.count >= 22 { #expect(traces.items.last?.hasPrefix("packet \(number) sum ") == true) }
            number += 1
            seen += UInt64(packet.count)
        }
        // Array map keys are host integers (the map's own index), values the program's bytes.
        #expect(try object.map(named: ".data")?.lookup(key: le32(0)) == be32(number))
        #expect(try object.map(named: ".bss")?.lookup(key: le32(0)).prefix(8) == be64(seen)[...])
    }

    /// Atomics on an array map element (looked up with a big-endian key) and
    /// on global data, on the big-endian interpreter: the program computes
    /// on the 64-bit words of the packet as a big-endian machine reads them,
    /// so the expectation is the little-endian one over the byte-reversed
    /// words. The array map's element 1 holds the big-endian value.
    @Test(arguments: ["v3", "v4"])
    func atomicsOnMapValuesAndGlobals(cpu: String) throws {
        let object = try load("atomics", cpu: cpu)
        let program = try object.program()
        func reversedWords(_ packet: [UInt8]) -> [UInt8] {
            var out = packet
            for word in 0..<8 { let range = 14 + 8 * word..<22 + 8 * word; out.replaceSubrange(range, with: packet[range].reversed()) }
            return out
        }
        var state = ExampleTests.AtomicsState()
        for seed in [UInt8(3), 200, 17] {
            let packet = Packets.ethernet(0x0800, payload: Packets.bytes(70, seed: seed))
            let expected = ExampleTests.atomicsExpectation(reversedWords(packet), &state)
            let (value, out) = try run(program, on: bigEndian, input: packet)
            #expect(value == expected.0 && out == reversedWords(expected.1), "cpu \(cpu), seed \(seed)")
        }
        #expect(try object.map(named: "cells")?.lookup(key: be32(1)) == be64(state.cell))
    }

    /// The examples written portably (`bpf_htons`, byte-wise packet access),
    /// `bpfeb` on the big-endian interpreter and `bpfel` on the little-endian
    /// one, over the same packets: return values and output packets agree run
    /// for run, map state carrying over. (`atomics` stores 64-bit integers
    /// into the packet, which differ by design; `xdp_swap_mac` is below.)
    @Test(arguments: ["xdp_proto_count", "xdp_adjust", "global_data"])
    func agreesWithLittleEndian(name: String) throws {
        let big = try load(name).program(), little = try load(name, target: "bpfel").program()
        let packets = [Packets.ipv4(protocol: 6, payload: Packets.bytes(60)), Packets.ipv4(protocol: 17, payload: Packets.bytes(12)),
                       Packets.ethernet(0x86dd, payload: Packets.bytes(80, seed: 3)), Packets.ethernet(0x0806, payload: Packets.bytes(28)),
                       Packets.ipv4(protocol: 1, payload: Packets.bytes(200, seed: 5))]
        var completed = 0
        for (k, packet) in packets.enumerated() {
            let a = Result { try run(little, on: Interpreter(), input: packet) }.map { "r0 \($0.0) packet \($0.1)" }
            let b = Result { try run(big, on: bigEndian, input: packet) }.map { "r0 \($0.0) packet \($0.1)" }
            if case .success = a { completed += 1 }   // errors must agree too (the same error, at the same instruction)
            #expect("\(a)" == "\(b)", "\(name), packet \(k)")
        }
        #expect(completed > 0, "\(name): nothing ran to the end")
    }

    /// `struct iphdr`'s bit fields (`ihl`) follow the compiled byte order (the
    /// kernel headers' `<asm/byteorder.h>` would otherwise declare the host's
    /// little-endian bit fields and the program would see `ihl` 4, not 5):
    /// the addresses are swapped and the TTL decremented as on little endian.
    /// The IP checksum the program patches with `bpf_csum_diff` comes out the
    /// same too: a big-endian kernel sums big-endian words, and so does the
    /// helper for a big-endian run, so the stored checksum is the right one in
    /// both orders (checked here by RFC 1071: the header sums to 0xffff).
    @Test func macSwapperReadsBitFieldsInItsOrder() throws {
        let big = try load("xdp_swap_mac").program(), little = try load("xdp_swap_mac", target: "bpfel").program()
        let packet = Packets.ipv4(protocol: 17, payload: Packets.bytes(12))
        let (r0, out) = try run(big, on: bigEndian, input: packet)
        let (expectedR0, expected) = try run(little, on: Interpreter(), input: packet)
        #expect(r0 == 3 && expectedR0 == 3, "XDP_TX")
        #expect(out == expected)
        #expect(out[22] == packet[22] - 1, "TTL decremented")
        func headerSum(_ bytes: [UInt8]) -> UInt32 {
            var sum: UInt32 = 0
            for i in stride(from: 14, to: 34, by: 2) { sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]) }
            while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
            return sum
        }
        #expect(headerSum(packet) == 0xffff, "the input's checksum is valid")
        #expect(headerSum(out) == 0xffff, "the patched checksum is valid on the big-endian run")
    }

    /// A `bpfeb` object's programs are refused by a little-endian engine (and
    /// `bpfel` ones by a big-endian engine), naming both orders.
    @Test func theOtherOrderIsRefused() throws {
        let big = try load("xdp_swap_mac").program(), little = try load("xdp_swap_mac", target: "bpfel").program()
        #expect(throws: ObjectLoadError.self) { try big.checkByteOrder(.little, engine: "little-endian interpreter") }
        #expect(throws: ObjectLoadError.self) { try little.checkByteOrder(.big, engine: "mips32be JIT") }
        do {
            try little.checkByteOrder(.big, engine: "mips32be JIT")
        } catch {
            #expect(error.description.contains("compiled for little-endian BPF (-target bpfel) but the mips32be JIT runs big-endian"))
        }
    }

    /// The context a big-endian run reads: its words in big-endian order,
    /// pointing at the packet; a little-endian run's in little-endian order.
    @Test func contextWordsFollowTheEnginesOrder() throws {
        let program = try load("xdp_swap_mac").program()
        let packet = Packets.ipv4(protocol: 6, payload: Packets.bytes(20))
        for order in [ByteOrder.big, .little] {
            let run = try program.makeRun(input: packet, byteOrder: order)
            let context = UnsafeRawPointer(bitPattern: UInt(run.input.r1))!
            func word(_ offset: Int) -> UInt64 {
                let raw = context.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                return order == .big ? UInt64(bigEndian: raw) : UInt64(littleEndian: raw)
            }
            let data = word(XDPContext.data), end = word(XDPContext.dataEnd)
            #expect(end - data == UInt64(packet.count), "\(order)")
            #expect(Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(data)), count: packet.count)) == packet)
            let queue = context.loadUnaligned(fromByteOffset: XDPContext.ingressInterface, as: UInt32.self)
            #expect((order == .big ? UInt32(bigEndian: queue) : UInt32(littleEndian: queue)) == 1, "ingress_ifindex 1")
            // The inline packet check reads host-order words: only a host-order context offers it.
            #expect((run.input.dynamicRegion != nil) == (order == .host))
        }
    }
}
