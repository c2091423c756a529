import BPFHelpers
import BPFInterpreter
import BPFKit
import BPFLoader
import Foundation
import Testing

/// `bpf_fib_lookup`: the lookup against tables built here, the JSON form,
/// the helper in XDP and tc programs, and the kernel's answers where they do
/// not depend on the machine's routes.
struct FIBLookupTests {
    static let eth2 = FIBTable.Interface(ifindex: 2, mac: [2, 0, 0, 0, 0, 2], mtu: 1500)
    static let gatewayMAC: [UInt8] = [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x01], hostMAC: [UInt8] = [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x07]

    static func v4(_ text: String) -> [UInt8] { FIBTable.parseAddress(text)! }

    static let table = FIBTable(
        interfaces: [eth2, .init(ifindex: 3, mac: [2, 0, 0, 0, 0, 3], mtu: 9000), .init(ifindex: 4, mac: [2, 0, 0, 0, 0, 4], forwardsIPv4: false)],
        routes: [
            .init(destination: v4("10.0.0.0"), prefixLength: 8, ifindex: 2, gateway: v4("192.0.2.1"), metric: 20),
            .init(destination: v4("10.0.0.0"), prefixLength: 8, ifindex: 3, gateway: v4("198.51.100.1"), metric: 10),
            .init(destination: v4("192.0.2.0"), prefixLength: 24, ifindex: 2, metric: 5, source: v4("192.0.2.2")),
            .init(destination: v4("10.1.0.0"), prefixLength: 16, ifindex: 0, type: .blackhole),
            .init(destination: v4("10.2.0.0"), prefixLength: 16, ifindex: 0, type: .unreachable),
            .init(destination: v4("10.3.0.0"), prefixLength: 16, ifindex: 0, type: .prohibit),
            .init(destination: v4("10.4.0.0"), prefixLength: 16, ifindex: 2, gateway: v4("192.0.2.1"), mtu: 1280),
            .init(destination: v4("0.0.0.0"), prefixLength: 0, ifindex: 3, gateway: v4("198.51.100.9"), table: 100),
            .init(destination: v4("2001:db8::"), prefixLength: 32, ifindex: 2, gateway: v4("fe80::1")),
        ],
        neighbours: [
            .init(ifindex: 2, address: v4("192.0.2.1"), mac: gatewayMAC),
            .init(ifindex: 2, address: v4("192.0.2.7"), mac: hostMAC),
            .init(ifindex: 3, address: v4("198.51.100.1"), mac: [0xcc, 0, 0, 0, 0, 1]),
            .init(ifindex: 2, address: v4("fe80::1"), mac: gatewayMAC),
        ])

    /// A `struct bpf_fib_lookup` (host order integers, network order addresses).
    static func params(family: UInt8 = 2, ifindex: UInt32 = 2, source: String? = nil, destination: String, totalLength: UInt16 = 0,
                       tbid: UInt32 = 0) -> [UInt8] {
        var p = [UInt8](repeating: 0, count: 64)
        p[0] = family
        p.replaceSubrange(6..<8, with: withUnsafeBytes(of: totalLength) { Array($0) })
        p.replaceSubrange(8..<12, with: withUnsafeBytes(of: ifindex) { Array($0) })
        let d = v4(destination)
        p.replaceSubrange(32..<32 + d.count, with: d)
        if let source { let s = v4(source); p.replaceSubrange(16..<16 + s.count, with: s) }
        p.replaceSubrange(48..<52, with: withUnsafeBytes(of: tbid) { Array($0) })
        return p
    }

    static func run(_ p: [UInt8], flags: UInt32 = 0, table: FIBTable? = FIBLookupTests.table, packetLength: Int? = nil) -> (Int64, [UInt8]) {
        var p = p
        let rc = FIBLookup.lookup(&p, flags: flags, table: table, packetLength: packetLength)
        return (rc, p)
    }

    @Test func forwardsThroughTheLowestMetricGateway() {
        let (rc, p) = Self.run(Self.params(destination: "10.9.9.9"))
        #expect(rc == FIBLookup.success)
        #expect(p.le32(at: 8) == 3, "ifindex of the metric-10 route")
        #expect(Array(p[32..<36]) == Self.v4("198.51.100.1"), "ipv4_dst is the gateway")
        #expect(Array(p[58..<64]) == [0xcc, 0, 0, 0, 0, 1] && Array(p[52..<58]) == [2, 0, 0, 0, 0, 3], "dmac, smac")
        #expect(p.le32(at: 12) == 10, "rt_metric")
        #expect(UInt16(p[6]) | UInt16(p[7]) << 8 == 9000, "mtu_result: the interface's MTU (XDP always checks it)")
    }

    @Test func directlyConnectedAndNeighbours() {
        var (rc, p) = Self.run(Self.params(destination: "192.0.2.7"))
        #expect(rc == FIBLookup.success && Array(p[32..<36]) == Self.v4("192.0.2.7") && Array(p[58..<64]) == Self.hostMAC)
        (rc, p) = Self.run(Self.params(destination: "192.0.2.8"))
        #expect(rc == FIBLookup.noNeighbour && p.le32(at: 8) == 2, "ifindex written before the neighbour lookup fails")
        (rc, p) = Self.run(Self.params(destination: "192.0.2.8"), flags: FIBLookup.skipNeighbour)
        #expect(rc == FIBLookup.success && p[52..<64].allSatisfy { $0 == 0 }, "SKIP_NEIGH: no MACs")
        (rc, p) = Self.run(Self.params(destination: "192.0.2.8"), flags: FIBLookup.source | FIBLookup.skipNeighbour)
        #expect(rc == FIBLookup.success && Array(p[16..<20]) == Self.v4("192.0.2.2"), "BPF_FIB_LOOKUP_SRC: the preferred source")
        (rc, _) = Self.run(Self.params(destination: "10.9.9.9"), flags: FIBLookup.source)
        #expect(rc == FIBLookup.noSourceAddress)
    }

    @Test func routeTypesAndMisses() {
        #expect(Self.run(Self.params(destination: "10.1.2.3")).0 == FIBLookup.blackhole, "longest prefix wins over 10/8")
        #expect(Self.run(Self.params(destination: "10.2.2.3")).0 == FIBLookup.unreachable)
        #expect(Self.run(Self.params(destination: "10.3.2.3")).0 == FIBLookup.prohibit)
        #expect(Self.run(Self.params(destination: "8.8.8.8")).0 == FIBLookup.notForwarded)
        #expect(Self.run(Self.params(destination: "8.8.8.8"), table: nil).0 == FIBLookup.notForwarded, "no table: no route")
        #expect(Self.run(Self.params(ifindex: 9, destination: "10.9.9.9")).0 == -19, "-ENODEV")
        #expect(Self.run(Self.params(ifindex: 4, destination: "10.9.9.9")).0 == FIBLookup.forwardingDisabled)
        #expect(Self.run(Self.params(family: 7, destination: "10.9.9.9")).0 == -97, "-EAFNOSUPPORT")
        #expect(Self.run(Self.params(destination: "10.9.9.9"), flags: 0x40).0 == -22, "-EINVAL for unknown flags")
        let (rc, p) = Self.run(Self.params(destination: "10.9.9.9"), flags: FIBLookup.output)
        #expect(rc == FIBLookup.success && p.le32(at: 8) == 2 && Array(p[58..<64]) == Self.gatewayMAC,
                "OUTPUT: only routes leaving by ifindex 2 (the metric-20 one)")
    }

    @Test func mtu() {
        var (rc, p) = Self.run(Self.params(destination: "10.4.0.1", totalLength: 1281))
        #expect(rc == FIBLookup.fragmentationNeeded && UInt16(p[6]) | UInt16(p[7]) << 8 == 1280, "the route's MTU")
        (rc, p) = Self.run(Self.params(destination: "10.4.0.1", totalLength: 1280))
        #expect(rc == FIBLookup.success)
        // tc without tot_len: the packet's own length against the device.
        (rc, p) = Self.run(Self.params(destination: "192.0.2.7"), packetLength: 1519)
        #expect(rc == FIBLookup.fragmentationNeeded && UInt16(p[6]) | UInt16(p[7]) << 8 == 1500)
        #expect(Self.run(Self.params(destination: "192.0.2.7"), packetLength: 1518).0 == FIBLookup.success)
    }

    @Test func tableIDAndIPv6() {
        var (rc, p) = Self.run(Self.params(destination: "8.8.8.8", tbid: 100), flags: FIBLookup.direct | FIBLookup.tableID | FIBLookup.skipNeighbour)
        #expect(rc == FIBLookup.success && Array(p[32..<36]) == Self.v4("198.51.100.9") && p.le32(at: 48) == 0, "table 100's default route")
        (rc, _) = Self.run(Self.params(destination: "8.8.8.8", tbid: 7), flags: FIBLookup.direct | FIBLookup.tableID)
        #expect(rc == FIBLookup.notForwarded, "a table that does not exist")
        (rc, p) = Self.run(Self.params(family: 10, destination: "2001:db8::5"))
        #expect(rc == FIBLookup.success && Array(p[32..<48]) == Self.v4("fe80::1") && Array(p[58..<64]) == Self.gatewayMAC)
        #expect(Self.run(Self.params(family: 10, destination: "fe80::2")).0 == FIBLookup.notForwarded, "link-local is never forwarded")
    }

    @Test func json() throws {
        let text = """
        {"interfaces": [{"ifindex": 2, "mac": "02:00:00:00:00:02", "mtu": 1500}],
         "routes": [{"prefix": "10.0.0.0/8", "ifindex": 2, "gateway": "192.0.2.1", "metric": 20},
                    {"prefix": "10.1.0.0/16", "type": "blackhole"}],
         "neighbours": [{"ifindex": 2, "address": "192.0.2.1", "mac": "aa:bb:cc:dd:ee:01"}]}
        """
        let table = try FIBTable(json: Data(text.utf8))
        #expect(table == FIBTable(interfaces: [Self.eth2],
                                  routes: [Self.table.routes[0], .init(destination: Self.v4("10.1.0.0"), prefixLength: 16, ifindex: 0, type: .blackhole)],
                                  neighbours: [Self.table.neighbours[0]]))
        for (bad, fragment) in [("{\"routes\": [{\"prefix\": \"10.0.0.0/33\", \"ifindex\": 2}]}", "routes[0]"),
                                ("{\"interfaces\": [{\"ifindex\": 2, \"mac\": \"02:00\"}]}", "interfaces[0]"),
                                ("{\"routes\": [{\"prefix\": \"10.0.0.0/8\", \"ifindex\": 5}]}", "route 0"),
                                ("{\"route\": []}", "unknown member")] {
            #expect { try FIBTable(json: Data(bad.utf8)) } throws: { "\($0)".contains(fragment) }
        }
    }

    static func packet(_ params: [UInt8], flags: UInt32) -> [UInt8] {
        [UInt8](repeating: 0xff, count: 12) + [0x88, 0xb5, 0, 0] + params + withUnsafeBytes(of: flags) { Array($0) } + [0, 0, 0, 0] + [UInt8](repeating: 0, count: 16)
    }

    /// The helper from XDP and tc programs, with the verifier's proofs, on every engine.
    @Test(.enabled(if: Clang.available)) func fromPrograms() throws {
        let source = testProgramsDirectory.appendingPathComponent("fib_lookup.c")
        for (bytes, name) in [(try Clang.object(source), "fib_xdp"), (try [UInt8](Data(contentsOf: Clang.compile(source, extra: ["-DFIB_TC"]))), "fib_tc")] {
            var options = LoadOptions(trace: { _ in })
            options.fib = Self.table
            let object = try LoadedObject(bytes: bytes, options: options)
            let program = try object.program(named: name)
            let input = Self.packet(Self.params(destination: "10.9.9.9"), flags: 0)
            let (expectedRC, expected) = Self.run(Self.params(destination: "10.9.9.9"), packetLength: name == "fib_tc" ? input.count : nil)
            for engine in engines {
                let (_, output) = try BPFLoaderTests.run(program, on: engine, input: input)
                #expect(Int32(bitPattern: output.le32(at: 84)) == Int32(expectedRC) && expectedRC == 0, "\(name) on \(engine.name)")
                #expect(Array(output[16..<80]) == expected, "\(name) on \(engine.name): the struct as the helper wrote it")
            }
        }
    }
}

/// The kernel's answers for lookups that do not depend on the machine's
/// routes: bad arguments, unknown interfaces, link-local IPv6, and the
/// loopback interface's forwarding setting, mirrored in a table.
@Suite(.enabled(if: Clang.available && KernelObject.availability.available,
                "fib_lookup kernel differential skipped: \(Clang.available ? KernelObject.availability.reason : "clang or BPF headers missing")"),
       .serialized)
struct FIBLookupKernelTests {
    static func forwarding(_ path: String) -> Bool {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
    }

    @Test func sameAnswersAsTheKernel() throws {
        let lo4 = Self.forwarding("/proc/sys/net/ipv4/conf/lo/forwarding"), lo6 = Self.forwarding("/proc/sys/net/ipv6/conf/lo/forwarding")
        var table = FIBTable(interfaces: [.init(ifindex: 1, mac: [0, 0, 0, 0, 0, 0], mtu: 65536, forwardsIPv4: lo4, forwardsIPv6: lo6)])
        table.routes = []
        typealias T = FIBLookupTests
        var cases: [(String, [UInt8], UInt32)] = [
            ("ifindex 0", T.params(ifindex: 0, destination: "203.0.113.5"), 0),
            ("unknown family", T.params(family: 99, ifindex: 1, destination: "203.0.113.5"), 0),
            ("unknown flag", T.params(ifindex: 1, destination: "203.0.113.5"), 0x80),
            ("link-local IPv6", T.params(family: 10, ifindex: 1, destination: "fe80::1"), 0),
            ("multicast IPv6", T.params(family: 10, ifindex: 0, destination: "ff02::1"), 0),
        ]
        // With forwarding off on lo the answer is FWD_DISABLED whatever the routes; with it on it depends on them.
        if !lo4 {
            cases += [("IPv4 on lo", T.params(ifindex: 1, destination: "203.0.113.5"), 0),
                      ("IPv4 on lo, table 777", T.params(ifindex: 1, destination: "203.0.113.5", tbid: 777), FIBLookup.direct | FIBLookup.tableID)]
        }
        if !lo6 { cases.append(("IPv6 on lo", T.params(family: 10, ifindex: 1, destination: "2001:db8::1"), 0)) }
        let source = testProgramsDirectory.appendingPathComponent("fib_lookup.c")
        for (type, path) in [("xdp", try Clang.compile(source)), ("tc", try Clang.compile(source, extra: ["-DFIB_TC"]))] {
            let kernel = try KernelObject(path: path, type: type)
            defer { kernel.close() }
            var options = LoadOptions(trace: { _ in })
            options.fib = table
            let object = try LoadedObject(bytes: [UInt8](Data(contentsOf: path)), options: options)
            for program in kernel.programs {
                let linked = try object.program(named: program)
                for (name, params, flags) in cases {
                    let input = T.packet(params, flags: flags)
                    let (kernelValue, kernelOutput) = try kernel.run(program, input: input)
                    let (value, output) = try BPFLoaderTests.run(linked, on: Interpreter(), input: input)
                    print("fib_lookup \(program) \(name): kernel rc \(Int32(bitPattern: kernelOutput.le32(at: 84)))")
                    #expect(value == kernelValue, "\(program) \(name)")
                    #expect(Array(output.prefix(88)) == Array(kernelOutput.prefix(88)), "\(program) \(name): struct and result")
                }
            }
        }
    }
}
