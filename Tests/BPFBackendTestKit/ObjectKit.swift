import BPFKit
import BPFRuntime
import BPFTestSuite
import Foundation

/// Clang-compiled programs that reach the host through more than plain
/// helpers, on a row against the interpreter of its byte order (which
/// BPFLoaderTests checks against models of the kernel's helpers and against
/// the kernel): each through the facade's engine for `--arch` and on every
/// configuration, with maps of its own.
///
/// - bpf_loop and bpf_for_each_map_elem (`Tests/Fixtures/bpf-programs/callbacks.c`):
///   the loader turns them into bytecode loops with bpf-to-bpf calls, which a
///   JIT runs like any code. r0 and the `results` map after every packet.
/// - kernel functions (kfuncs) called from C, arguments placed by their
///   prototypes: a 64-bit and a 32-bit number, a buffer and its size, an
///   8-byte output.
/// - maps of maps (`map_in_map.c`): an outer lookup gives an inner map's
///   handle (on a 32-bit target a token standing for the 64-bit host handle,
///   never mapped memory, which map arguments turn back into the handle);
///   the counts match the program's meaning, and reading through the handle
///   is an error on every engine.
public enum ObjectKit {
    static let programs = BackendMatrix.fixtures.appendingPathComponent("bpf-programs")

    /// The programs of `callbacks.c`.
    public static let callbackPrograms = ["loop_packet", "loop_errors", "each_array", "each_hash"]

    /// One program of `callbacks.c`: r0 and `results` after every packet.
    static func callbacks(_ row: BackendRow, program: String) throws -> BackendCheckReport {
        let source = programs.appendingPathComponent("callbacks.c").path
        let load = ExampleKit.Load(program: program, packets: ObjectFixtures.callbackPackets, watching: ["results"])
        let (failures, _) = try ExampleKit.compare(row, source: source, cpu: "v3", load, name: program)
        return BackendCheckReport(summary: "callbacks.c \(program) on \(row.name): \(failures.count) failures", failures: failures)
    }

    /// Kernel functions from C: the interpreter, the facade's engine and
    /// every configuration agree, and a little-endian row gives the value the
    /// functions' meaning gives (`host_stamp` writes 1000 in the host's
    /// order, which a big-endian program reads otherwise).
    static func kernelFunctionCalls(_ row: BackendRow) throws -> BackendCheckReport {
        let source = FileManager.default.temporaryDirectory
            .appendingPathComponent("bpfkit-kfuncs-\(row.name.filter { $0.isLetter || $0.isNumber })-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).c")
        try ObjectFixtures.kernelFunctionSource.write(to: source, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: source) }
        let load = ExampleKit.Load(program: "use_host", packets: [ObjectFixtures.kernelFunctionPacket]) {
            $0.kernelFunctions = ObjectFixtures.kernelFunctions
        }
        var (failures, reference) = try ExampleKit.compare(row, source: source.path, cpu: "v3", load, name: "kfuncs")
        let expected = ObjectFixtures.kernelFunctionResult
        if row.byteOrder == .little, reference.runs.first?.hasPrefix("\(expected) ") != true {
            failures.append("the interpreter gives \(reference.runs), expected \(expected)")
        }
        return BackendCheckReport(summary: "kernel functions from C on \(row.name): \(failures.count) failures", failures: failures)
    }

    /// `map_in_map.c`'s `count_array`: slots 0 and 2 hold inner maps
    /// (element 1 counts), 1 and 3 none (100).
    static func mapInMapCounts(_ row: BackendRow) throws -> BackendCheckReport {
        let slots: [UInt8] = [0, 0, 2, 1, 0, 3, 2]
        let packets = slots.map { [UInt8](repeating: 0xff, count: 12) + [0x88, 0xb5, $0] + [UInt8](repeating: 0, count: 30) }
        let load = ExampleKit.Load(program: "count_array", packets: packets)
        var (failures, reference) = try ExampleKit.compare(row, source: programs.appendingPathComponent("map_in_map.c").path,
                                                           cpu: "v3", load, name: "map_in_map")
        let expected = ["1", "2", "1", "100", "3", "100", "2"]
        let got = reference.runs.map { String($0.prefix { $0 != " " }) }
        if got != expected { failures.append("the interpreter gives \(got), expected \(expected)") }
        return BackendCheckReport(summary: "map_in_map.c count_array on \(row.name): \(failures.count) failures", failures: failures)
    }

    /// The outer lookup's result is a handle, not memory: reading it is an
    /// error on the interpreter, through the facade and on every configuration.
    static func innerMapHandleRead(_ row: BackendRow) throws -> BackendCheckReport {
        let source = FileManager.default.temporaryDirectory
            .appendingPathComponent("bpfkit-inner-peek-\(row.name.filter { $0.isLetter || $0.isNumber })-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).c")
        try """
        #include "\(ExampleKit.examplesDirectory.path)/common.h"
        \(ObjectFixtures.innerMapHandleReadSource)
        """.write(to: source, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: source) }
        let packet = [UInt8](repeating: 0xff, count: 12) + [0x88, 0xb5, 0] + [UInt8](repeating: 0, count: 30)
        var failures: [String] = []
        for (engine, observed) in try ExampleKit.observations(row, source: source.path, cpu: "v3", ExampleKit.Load(program: "peek", packets: [packet]))
        where observed.runs.contains(where: { !$0.hasPrefix("error") }) {
            failures.append("\(engine) read the handle: \(observed.runs)")
        }
        return BackendCheckReport(summary: "reading an inner map's handle on \(row.name): \(failures.count) failures", failures: failures)
    }
}
