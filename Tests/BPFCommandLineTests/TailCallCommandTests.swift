import BPFCommandTestSupport
import Foundation
import Testing

/// Whether C examples can be built here (clang and libbpf's headers).
let canCompileC: Bool = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let clang = (["/opt/swift/usr/bin"] + path.split(separator: ":").map(String.init))
        .contains { FileManager.default.isExecutableFile(atPath: $0 + "/clang") }
    return clang && FileManager.default.fileExists(atPath: "/usr/include/bpf/bpf_helpers.h")
}()

/// `bpfkit run --tail-call / --clear-tail-call` and `dump jited` on the tail-call example.
@Suite(.enabled(if: canCompileC, "clang and <bpf/bpf_helpers.h> are needed to build the example"))
struct TailCallCommandTests {
    static let engines: [String] = {
        #if arch(x86_64)
        ["interpreter", "jit"]
        #else
        ["interpreter"]
        #endif
    }()

    func run(_ engine: String, _ extra: [String]) throws -> CommandResult {
        try bpfkit(["run", "examples/tail_call_pipeline.c", "--data-in", "examples/packets/ipv4_udp.bin", "--engine", engine] + extra)
    }

    /// The IPv4 packet goes pipeline -> parse -> ipv4 -(subprogram)-> finish: XDP_TX.
    @Test(arguments: engines)
    func slotsSetAndClearedBeforeTheRun(_ engine: String) throws {
        var result = try run(engine, [])
        #expect(result.status == 0 && result.stdout == "0x3\n", "\(result.stderr)")
        result = try run(engine, ["--clear-tail-call", "stages:3"])
        #expect(result.stdout == "0x0\n", "finish's slot empty: ipv4's subprogram returns XDP_ABORTED. \(result.stderr)")
        result = try run(engine, ["--tail-call", "stages:3=loop"])
        #expect(result.stdout == "0x2\n", "loop runs into the limit and passes. \(result.stderr)")
        result = try run(engine, ["--clear-tail-call", "stages:3", "--tail-call", "stages:3=finish"])
        #expect(result.stdout == "0x3\n", "clears come first. \(result.stderr)")
    }

    @Test func badSlotsAreErrors() throws {
        for (option, message) in [
            (["--tail-call", "stages:1"], "expected MAP:INDEX=PROGRAM"),
            (["--tail-call", "stages=finish"], "expected MAP:INDEX"),
            (["--tail-call", "nosuch:1=finish"], "no map named 'nosuch'"),
            (["--tail-call", "visits:1=finish"], "not a prog_array"),
            (["--tail-call", "stages:9=finish"], "index out of range"),
            (["--tail-call", "stages:1=nosuch"], "no program named 'nosuch'"),
            (["--clear-tail-call", "stages:2"], "ENOENT"),
            (["--clear-tail-call", "stages"], "expected MAP:INDEX"),
        ] {
            let result = try run("interpreter", option)
            #expect(result.status != 0 && result.stderr.contains(message), "\(option): \(result.stderr)")
        }
    }

    #if arch(x86_64)
    @Test func dumpShowsTheDirectSites() throws {
        let result = try bpfkit(["dump", "jited", "examples/tail_call_pipeline.c", "--program", "parse"])
        #expect(result.status == 0, "\(result.stderr)")
        // parse's constant slots are direct (jumps from parse, calls from its subprograms); dispatch's is indirect.
        #expect(result.stdout.contains("; direct tail call sites: "), "\(result.stdout.suffix(600))")
        #expect(result.stdout.contains("slot 2, bypass at") && result.stdout.contains("jump patched at"))
        #expect(result.stdout.contains("slot 3, bypass at") && result.stdout.contains("call patched at"))
        let loop = try bpfkit(["dump", "jited", "examples/tail_call_pipeline.c", "--program", "loop"])
        #expect(loop.stdout.contains("; direct tail call sites: 1"), "\(loop.stdout.suffix(600))")
        #expect(loop.stdout.contains("slot 4, bypass at"))
    }
    #endif
}
