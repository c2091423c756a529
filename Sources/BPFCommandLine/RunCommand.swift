import ArgumentParser
import Foundation
import BPFExecMemory
import BPFHelpers
import BPFJIT
import BPFKit
import BPFMaps
import BPFRuntime

/// `bpfkit run`: load a program, run it, print r0.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a program: assembly (.s/.asm), a corpus test (.data), raw bytes (.bin), an ELF object (.o) or C (.c).",
        discussion: "For --type mem, r1 points to the input memory and r2 holds its length; for xdp the input is the packet. Prints r0."
    )

    @Argument(help: "The program file.")
    var program: String

    @Option(name: .customLong("data-in"), help: "File whose bytes are the input memory (the packet for xdp).")
    var dataIn: String?

    @Option(name: .long, help: "Input memory as hex bytes, e.g. \"00 01 ff\".")
    var mem: String?

    @Option(name: .customLong("data-out"), help: "Write the memory as the program left it (the packet for xdp) to this file.")
    var dataOut: String?

    @Option(name: .long, help: "Run this many times in place on one buffer (as the kernel's test run repeats over one data_in); the duration is the mean per run.")
    var `repeat`: Int = 1

    @Option(name: .customLong("instruction-limit"), help: "Stop a run after this many instructions.")
    var instructionLimit: UInt64 = ExecutionLimits.defaultInstructionLimit

    @OptionGroup var engineOptions: EngineOptions
    @OptionGroup var riscvOptions: RISCVExtensionOptions
    @OptionGroup var objectOptions: ObjectOptions

    @Flag(name: .customLong("dump-maps"), help: "Print every map's contents after the run (with --json: as a \"maps\" member in the --map-init format).")
    var dumpMaps = false

    @Option(name: .customLong("map-init"), help: ArgumentHelp(
        "Fill maps before the run from a JSON object keyed by map name: [{\"key\": HEX, \"value\": HEX}, ...] (prog_array values: {\"program\": NAME}).",
        valueName: "FILE.json"))
    var mapInit: String?

    @Option(name: .long, help: ArgumentHelp(
        "Routing table for bpf_fib_lookup (JSON: interfaces, routes, neighbours; see the README). Without it every lookup finds no route.",
        valueName: "FILE.json"))
    var fib: String?

    @Option(name: .customLong("tail-call"), help: ArgumentHelp(
        "Put the object's program PROGRAM in slot INDEX of prog_array MAP before the run (repeatable).",
        valueName: "MAP:INDEX=PROGRAM"))
    var tailCalls: [String] = []

    @Option(name: .customLong("clear-tail-call"), help: ArgumentHelp(
        "Empty slot INDEX of prog_array MAP before the run (repeatable; applied before --tail-call).",
        valueName: "MAP:INDEX"))
    var clearedTailCalls: [String] = []

    @Flag(name: .long, help: "Print the executable-memory pack's statistics to standard error after the run.")
    var stats = false

    @Flag(name: .long, help: "Print one JSON object: retval, duration_ns (mean ns per run), ns_per_run (the same, unrounded), median_batch_ns, engine, repeat.")
    var json = false

    @Flag(name: .customLong("no-verify"), help: "Do not run the verifier: every access keeps its run-time check.")
    var noVerify = false

    @Option(name: .long, help: "Run an xdp program on every packet of this pcap or pcapng capture (maps persist); prints a summary.")
    var pcap: String?

    @Option(name: .customLong("pcap-out"), help: "With --pcap: write the packets the program passes on (XDP_PASS, XDP_TX), as it left them.")
    var pcapOut: String?

    func run() throws {
        let (engine, architecture) = try engineOptions.resolve()
        try runSelected(target: try riscvOptions.target(applies: engine == .jit && architecture == .riscv64))
    }

    private func runSelected(target: JITTargetOptions) throws {
        guard self.repeat >= 1 else { throw fail("--repeat must be at least 1") }
        if dataIn != nil && mem != nil { throw fail("give --data-in or --mem, not both") }
        let (engine, architecture) = try engineOptions.resolve()
        let byteOrder = try engineOptions.resolveByteOrder()

        let file: ProgramFile
        if objectOptions.unprivileged && noVerify { throw fail("--unprivileged requires the verifier: drop --no-verify") }
        var request = try objectOptions.request()
        request.verify = !noVerify
        if let fib {
            guard let data = FileManager.default.contents(atPath: fib) else { throw fail("\(fib): cannot read the routing table") }
            do { request.fib = try FIBTable(json: data) } catch { throw fail("\(fib): \(error)") }
        }
        // C is compiled for the engine's byte order (-target bpfeb for a big-endian one).
        request.byteOrder = EngineOptions.compileOrder(engine, architecture: architecture, byteOrder: byteOrder)
        do { file = try ProgramFile.load(path: program, request) } catch { throw fail(error.description) }
        var input = file.memory ?? []
        if let dataIn { input = Array(try readFile(dataIn)) }
        if let mem { input = try parseHexBytes(mem, what: "--mem") }

        let loaded: LoadedProgram
        do {
            loaded = try LoadedProgram(file, engine: engine, architecture: architecture, instructionLimit: instructionLimit,
                                       byteOrder: byteOrder, hardened: engineOptions.harden, target: target)
        } catch { throw fail("\(program): \(error)") }
        try applyTailCallOptions(loaded)
        if let mapInit { try applyMapInit(mapInit, file: file, loaded: loaded) }
        if let pcap { return try runCapture(pcap, file: file, loaded: loaded) }
        if pcapOut != nil { throw fail("--pcap-out needs --pcap") }

        // Repeated runs take the zero-copy path: the input written once into
        // a buffer the program then runs on in place, `--repeat` times (as
        // the kernel's test run repeats over one data_in). A single run, and
        // types or byte orders without in-place buffers, take the run path
        // that reports errors in the program's terms and the redirect target.
        let measured: InPlaceMeasurement
        do {
            if self.repeat > 1, loaded.runsInPlace {
                measured = try loaded.measureInPlace(input: input, count: self.repeat)
            } else {
                let (result, mean) = try loaded.measure(input: input, count: self.repeat)
                measured = InPlaceMeasurement(result: result, meanNanoseconds: Double(mean), medianBatchNanoseconds: Double(mean),
                                              runs: self.repeat)
            }
        } catch { throw fail("\(program): \(error)") }
        if let dataOut { try writeFile(dataOut, measured.result.output) }
        let r0 = measured.result.returnValue
        if json {
            var fields = ["\"retval\":\(r0)", "\"duration_ns\":\(UInt64(measured.meanNanoseconds.rounded()))",
                          "\"ns_per_run\":\(Self.decimal(measured.meanNanoseconds))",
                          "\"median_batch_ns\":\(Self.decimal(measured.medianBatchNanoseconds))", "\"engine\":\"\(loaded.engineName)\"",
                          "\"repeat\":\(self.repeat)"]
            if let verdict = measured.result.verdict { fields.append("\"verdict\":\"\(verdict)\"") }
            if let redirect = measured.result.redirect { fields.append("\"redirect\":\(Self.json(redirect))") }
            if dumpMaps { fields.append("\"maps\":" + MapContents.json(file.linked.maps.maps)) }
            print("{" + fields.joined(separator: ",") + "}")
        } else {
            print("0x\(String(r0, radix: 16))")
            if let redirect = measured.result.redirect { print("redirect: \(redirect)") }
        }
        if dumpMaps && !json {
            for map in file.linked.maps.maps { print(MapDump.text(map)) }
        }
        if stats {
            fflush(nil)  // stdout first, so the result line precedes the statistics
            FileHandle.standardError.write(Data((ProgramPack.jit.statistics.description + "\n").utf8))
        }
    }
}

extension RunCommand {
    /// `--map-init FILE.json`: every entry written before the run, or an error naming the map and entry.
    func applyMapInit(_ path: String, file: ProgramFile, loaded: LoadedProgram) throws {
        let data = try readFile(path)
        do {
            let contents = try MapContents.parse(data)
            try MapContents.apply(contents, to: file.linked.maps.maps) { map, index, program in
                try loaded.setTailCall(map: map, index: index, program: program)
            }
        } catch { throw fail("--map-init \(path): \(error)") }
    }

    /// A redirect target as a JSON object: kind, then map, map_type, key, ifindex where they apply.
    static func json(_ target: RedirectTarget) -> String {
        var fields = ["\"kind\":\"\(target.kind.rawValue)\""]
        if let map = target.map { fields.append("\"map\":\"\(jsonEscaped(map))\"") }
        if let type = target.mapType { fields.append("\"map_type\":\"\(type)\"") }
        switch target.kind {
        case .interface: if target.ingress { fields.append("\"ingress\":true") }
        case .broadcast: fields.append("\"exclude_ingress\":\(target.excludeIngress)")
        case .deviceMap, .cpu, .socket: fields.append("\"key\":\(target.key)")
        }
        if let interface = target.interface { fields.append("\"ifindex\":\(interface)") }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func jsonEscaped(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A JSON number with two decimals.
    static func decimal(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        return String(format: "%.2f", value)
    }

    /// `--clear-tail-call MAP:INDEX`, then `--tail-call MAP:INDEX=PROGRAM`.
    func applyTailCallOptions(_ loaded: LoadedProgram) throws {
        for option in clearedTailCalls {
            let (map, index) = try Self.slot(option, option: "--clear-tail-call")
            do { try loaded.clearTailCall(map: map, index: index) } catch { throw fail("--clear-tail-call \(option): \(error)") }
        }
        for option in tailCalls {
            guard let equals = option.lastIndex(of: "=") else {
                throw fail("--tail-call \(option): expected MAP:INDEX=PROGRAM")
            }
            let (map, index) = try Self.slot(String(option[..<equals]), option: "--tail-call")
            let name = String(option[option.index(after: equals)...])
            guard !name.isEmpty else { throw fail("--tail-call \(option): expected MAP:INDEX=PROGRAM") }
            do { try loaded.setTailCall(map: map, index: index, program: name) } catch { throw fail("--tail-call \(option): \(error)") }
        }
    }

    /// `MAP:INDEX`.
    static func slot(_ text: String, option: String) throws(ExitCode) -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let index = Int(text[text.index(after: colon)...]), index >= 0,
              colon != text.startIndex else {
            throw fail("\(option) \(text): expected MAP:INDEX with a non-negative INDEX")
        }
        return (String(text[..<colon]), index)
    }
}

/// Options that pick and compile programs from ELF objects and C.
struct ObjectOptions: ParsableArguments {
    @Option(name: .long, help: "Program type: mem, xdp or tc (sched_cls) (default: from the ELF section, else mem).")
    var type: String?

    @Option(name: .customLong("max-input"), help: ArgumentHelp(
        "For mem programs: the longest input in bytes, 0 to 65535 (default 4096). The verifier assumes r2 <= BYTES and runs refuse longer inputs.",
        valueName: "BYTES"))
    var maxInput: Int?

    @Option(name: .long, help: "ELF section of the program (e.g. xdp).")
    var section: String?

    @Option(name: .customLong("program"), help: "Function name of the program in the ELF object.")
    var programName: String?

    @Option(name: .long, help: "clang used for .c files (default: the Swift toolchain's).")
    var clang: String?

    @Option(name: .long, help: "-mcpu for .c files: v1, v2, v3 or v4.")
    var cpu: String = "v3"

    @Flag(name: .long, help: "Load as untrusted code: refuse programs that may leak a pointer (verification is mandatory).")
    var unprivileged = false

    @Option(name: .long, help: ArgumentHelp(
        "Types CO-RE relocations resolve against: raw BTF or an ELF object's .BTF (default: /sys/kernel/btf/vmlinux when readable, else the object's own types).",
        valueName: "FILE"))
    var btf: String?

    func request() throws(ExitCode) -> LoadRequest {
        var request = LoadRequest(type: type, section: section, programName: programName, clang: clang, cpu: cpu,
                                  helpers: ConformanceRunner.helpers)
        if unprivileged { request.policy = .unprivileged }
        if let maxInput, let why = MemProgramType.invalidMaxInput(maxInput) { throw fail("--max-input \(maxInput): \(why)") }
        request.maxInput = maxInput
        if let btf {
            do { request.coreTarget = try CORETarget.file(btf) } catch { throw fail(error.description) }
        }
        return request
    }
}

/// Map contents as text: one line per entry, keys and values in hex.
enum MapDump {
    static func text(_ map: any BPFMap) -> String {
        let d = map.definition
        var lines = ["map \(d.name): \(d.type) key \(d.keySize) value \(d.valueSize) max_entries \(d.maxEntries)"]
        for (key, value) in map.entries() {
            lines.append("  \(hex(key)) => \(hex(value))")
        }
        return lines.joined(separator: "\n")
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined(separator: " ") }
}
