import BPFHelpers
import BPFLoader
import BPFMaps
import Foundation
import Testing

/// tc programs in the kernel (through bpftool, `BPF_PROG_TEST_RUN` with a
/// zeroed `ctx_in`) and in BPFKit, on the interpreter and the JIT: return
/// values, output packets, the `struct __sk_buff` returned as `ctx_out`, and
/// map contents must agree.
@Suite(.enabled(if: Clang.available && KernelObject.availability.available,
                "tc kernel differential skipped: \(Clang.available ? KernelObject.availability.reason : "clang or BPF headers missing")"),
       .serialized)
struct TCKernelDifferentialTests {
    static func udp(checksum: UInt16, payload: Int) -> [UInt8] {
        let length = 8 + payload
        return [0x30, 0x39, 0x00, 0x35, UInt8(length >> 8), UInt8(length & 0xff), UInt8(checksum >> 8), UInt8(checksum & 0xff)]
            + Packets.bytes(payload, seed: 4)
    }

    static func tcp() -> [UInt8] {
        [0x04, 0xd2, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x20, 0x00, 0x9a, 0xbc, 0, 0] + Packets.bytes(24, seed: 6)
    }

    static func with(destination: [UInt8], _ packet: [UInt8]) -> [UInt8] { destination + packet.dropFirst(6) }

    /// Packets every program sees, in this order (maps carry state from one to the next).
    static let packets: [[UInt8]] = [
        Packets.ipv4(protocol: 6, payload: tcp()),
        Packets.ipv4(protocol: 17, ttl: 2, payload: udp(checksum: 0, payload: 30)),
        Packets.ipv4(protocol: 17, payload: udp(checksum: 0x1234, payload: 11)),
        Packets.ipv4(protocol: 17, payload: udp(checksum: 0xd98f, payload: 2)),
        Packets.ipv4(protocol: 1, ttl: 1, payload: Packets.bytes(50, seed: 7)),
        Packets.ethernet(0x86dd, payload: [0x60, 0, 0, 0, 0, 20, 17, 64] + Packets.bytes(52, seed: 8)),
        Packets.ethernet(0x0806, payload: Packets.bytes(28, seed: 9)),
        Packets.ethernet(0x8100, payload: [0x00, 0x2a, 0x08, 0x00] + Array(Packets.ipv4(protocol: 6, payload: tcp()).dropFirst(14))),
        Packets.ethernet(0x88a8, payload: [0x00, 0x05, 0x81, 0x00, 0x00, 0x07, 0x86, 0xdd] + Packets.bytes(60, seed: 2)),
        Packets.ethernet(0x0030, payload: [0xff, 0xff] + Packets.bytes(40)),
        Packets.ethernet(0x0040, payload: Packets.bytes(40, seed: 3)),
        with(destination: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], Packets.ipv4(protocol: 6, payload: tcp())),
        with(destination: [0, 0, 0, 0, 0, 0], Packets.ipv4(protocol: 17, payload: udp(checksum: 7, payload: 9))),
        with(destination: [0x01, 0x00, 0x5e, 0, 0, 1], Packets.ethernet(0x0800, payload: Array(Packets.ipv4(protocol: 2, payload: Packets.bytes(8)).dropFirst(14)))),
        Packets.ethernet(0x1234, payload: []),
        Packets.ipv4(protocol: 6, payload: tcp() + Packets.bytes(1400, seed: 2)),
    ]

    static let sources = ["tc_context", "tc_checksums", "tc_resize"].map { testProgramsDirectory.appendingPathComponent("\($0).c") }

    struct Case: CustomStringConvertible, Sendable {
        let source: URL
        let cpu: String
        var description: String { "\(source.deletingPathExtension().lastPathComponent) -mcpu=\(cpu)" }
    }

    static let cases = sources.flatMap { source in ["v3", "v4"].map { Case(source: source, cpu: $0) } }

    /// A zeroed `ctx_in`: the kernel then fills `wire_len` with the length, as BPFKit's settings do.
    static let contextIn = [UInt8](repeating: 0, count: SKBContext.kernelSize)

    @Test(arguments: cases)
    func sameResultsAsTheKernel(_ c: Case) throws {
        let path = try Clang.compile(c.source, cpu: c.cpu)
        let kernel = try KernelObject(path: path, type: "tc")
        defer { kernel.close() }
        let bytes = try [UInt8](Data(contentsOf: path))

        // Maps are compared after each program's packets (programs share them,
        // so a later program would hide what an earlier one wrote).
        var expected: [(program: String, packet: Int, value: UInt64, output: [UInt8], context: [UInt8])] = []
        var snapshots: [String: [String: [[UInt8]: [UInt8]]]] = [:]
        let kernelMaps = kernel.pinnedMaps
        for program in kernel.programs {
            for (i, packet) in Self.packets.enumerated() {
                let (value, output, context) = try kernel.run(program, input: packet, context: Self.contextIn)
                expected.append((program, i, value, output, context))
            }
            for name in kernelMaps { snapshots[program, default: [:]][name] = try kernel.dump(map: name) }
        }
        #expect(expected.count == kernel.programs.count * Self.packets.count && !expected.isEmpty)
        print("tc kernel differential \(c): \(kernel.programs) x \(Self.packets.count) packets, returns \(Set(expected.map(\.value)).sorted()), maps \(kernelMaps)")

        let type = TCProgramType(settings: try SKBSettings(contextIn: Self.contextIn))
        for engine in engines {
            let object = try LoadedObject(bytes: bytes, options: LoadOptions(trace: { _ in }))
            #expect(Set(object.object.programs.map(\.name)) == Set(kernel.programs), "same programs found")
            for (index, run) in expected.enumerated() {
                let program = try object.program(named: run.program, type: type)
                let prepared = try engine.prepare(program.program, configuration: program.engineConfiguration())
                let ours = try program.makeRun(input: Self.packets[run.packet])
                let value = try prepared.run(ours.input)
                let label = "\(c) \(run.program) packet \(run.packet) on \(engine.name)"
                #expect(value == run.value, "\(label): return value")
                if run.program == "tc_redirect" {
                    #expect(ours.redirect(returnValue: value) == Self.redirectModel(Self.packets[run.packet]), "\(label): redirect target")
                }
                Self.compare(ours.output(), run.output, "\(label): output packet")
                Self.compare(ours.contextOutput() ?? [], run.context, "\(label): ctx_out")
                guard index == expected.count - 1 || expected[index + 1].program != run.program else { continue }
                for map in object.maps.maps where map.definition.type == .array {
                    guard let kernelEntries = snapshots[run.program]?[map.name] else { continue }
                    for (key, value) in map.entries() where kernelEntries[key] != value {
                        Issue.record("\(c) after \(run.program), map \(map.name) on \(engine.name): key \(key) is \(value), the kernel's \(kernelEntries[key] ?? [])")
                    }
                    #expect(map.entries().count == kernelEntries.count, "\(c) map \(map.name) on \(engine.name): entry count")
                }
            }
        }
    }

    /// Where `tc_redirect` sends `packet`, from its C source: IPv4 but ICMP
    /// goes to ifindex TTL + 10, into it (`BPF_F_INGRESS`) for UDP; ICMP's
    /// unknown flag gives TC_ACT_SHOT and no target.
    static func redirectModel(_ p: [UInt8]) -> RedirectTarget? {
        guard p.count >= 34, p[12] == 0x08, p[13] == 0x00, p[23] != 1 else { return nil }
        let ifindex = UInt32(p[22]) + 10
        return RedirectTarget(kind: .interface, key: ifindex, interface: ifindex, ingress: p[23] == 17)
    }

    /// A `ctx_in` that sets what a test run may set: the program sees it and
    /// `ctx_out` returns it (with the program's own writes) as the kernel's does.
    @Test func contextInIsSeenAndReturnedLikeTheKernel() throws {
        let path = try Clang.compile(Self.sources[0], cpu: "v3")
        let kernel = try KernelObject(path: path, type: "tc")
        defer { kernel.close() }
        var context = [UInt8](repeating: 0, count: SKBContext.kernelSize)
        func put(_ value: UInt32, at offset: Int) { for i in 0..<4 { context[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) } }
        put(5, at: SKBContext.mark); put(3, at: SKBContext.priority); put(9, at: SKBContext.controlBlock + 8)
        put(4, at: SKBContext.ingressInterface); put(1, at: SKBContext.interface); put(1500, at: SKBContext.wireLength)
        put(2, at: SKBContext.gsoSegments); put(1400, at: SKBContext.gsoSize); put(77, at: SKBContext.hardwareTimestamp)
        let object = try LoadedObject(bytes: [UInt8](Data(contentsOf: path)))
        let program = try object.program(named: "tc_context", type: TCProgramType(settings: try SKBSettings(contextIn: context)))
        for packet in Self.packets.prefix(4) {
            let (value, output, contextOut) = try kernel.run("tc_context", input: packet, context: context)
            for engine in engines {
                let prepared = try engine.prepare(program.program, configuration: program.engineConfiguration())
                let ours = try program.makeRun(input: packet)
                #expect(try prepared.run(ours.input) == value, "\(engine.name): return value")
                Self.compare(ours.output(), output, "\(engine.name): output packet")
                Self.compare(ours.contextOutput() ?? [], contextOut, "\(engine.name): ctx_out")
            }
        }
    }

    /// Records where two byte strings first differ (whole packets are too long to print).
    static func compare(_ ours: [UInt8], _ kernel: [UInt8], _ label: String) {
        guard ours != kernel else { return }
        let at = (0..<min(ours.count, kernel.count)).first { ours[$0] != kernel[$0] } ?? min(ours.count, kernel.count)
        func window(_ bytes: [UInt8]) -> [UInt8] { Array(bytes[min(at, bytes.count)..<min(at + 8, bytes.count)]) }
        Issue.record("\(label): \(ours.count) bytes, the kernel's \(kernel.count); first difference at \(at): \(window(ours)) vs \(window(kernel))")
    }

    /// The kernel refuses an IPv4 or IPv6 packet shorter than its header and
    /// so does BPFKit; both take a 14-byte frame of another type.
    @Test func truncatedHeadersAreRefusedLikeTheKernel() throws {
        let path = try Clang.compile(Self.sources[0], cpu: "v3")
        let kernel = try KernelObject(path: path, type: "tc")
        defer { kernel.close() }
        let object = try LoadedObject(bytes: [UInt8](Data(contentsOf: path)))
        let program = try object.program(named: "tc_context")
        for (packet, accepted) in [(Packets.ethernet(0x0800, payload: Packets.bytes(19)), false),
                                   (Packets.ethernet(0x0800, payload: Packets.bytes(20)), true),
                                   (Packets.ethernet(0x86dd, payload: Packets.bytes(39)), false),
                                   (Packets.ethernet(0x86dd, payload: Packets.bytes(40)), true),
                                   (Packets.ethernet(0x0806, payload: []), true)] {
            let kernelAccepted = (try? kernel.run("tc_context", input: packet)) != nil
            #expect(kernelAccepted == accepted, "kernel on \(packet.count) bytes")
            #expect(((try? program.makeRun(input: packet)) != nil) == accepted, "BPFKit on \(packet.count) bytes")
        }
    }
}
