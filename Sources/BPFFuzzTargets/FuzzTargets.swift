import BPFAssembler
import BPFELF
import BPFHelpers
import BPFInterpreter
import BPFISA
import BPFKit
import BPFLoader
import BPFPcap
import BPFRuntime
import BPFVerifier
import Foundation

/// Coverage-guided fuzz targets for what parses or judges input. Built with
/// `swift build --sanitize fuzzer -Xswiftc -DBPFKIT_LIBFUZZER` this is a
/// libFuzzer binary (`scripts/fuzz --target NAME SECONDS`); built plainly,
/// it replays inputs: `BPFFuzzTargets NAME FILE...`. Every target must
/// return normally for every input; a trap is a finding.
enum FuzzTarget: String, CaseIterable {
    /// Bytecode: the decoder, then validation.
    case decoder
    /// Assembly text in both syntaxes.
    case assembler
    /// ELF objects: sections, BTF, relocations, maps, programs linked and verified.
    case elf
    /// Bytecode as a `mem` program: verified; when the verifier accepts it,
    /// run on the interpreter and the native JIT with the proofs, which must
    /// agree (a proof that is wrong shows here as a difference or a crash).
    case verifier
    /// Bytes as a capture file (pcap or pcapng) read to its end through libpcap and BPFKit's record checks.
    case pcap

    func run(_ bytes: [UInt8]) {
        switch self {
        case .decoder:
            if let program = try? Program(bytes: bytes) { _ = try? program.validate() }
            _ = try? Program(bytes: bytes, byteOrder: .big)
        case .assembler:
            let text = String(decoding: bytes, as: UTF8.self)
            _ = try? Assembler.assemble(text)
            _ = try? Assembler.assembleRaw(text)
        case .elf:
            guard let object = try? ObjectFile(bytes: bytes) else { return }
            let options = LoadOptions(trace: { _ in }, verifierLimits: VerifierLimits(maxSteps: 20_000, unrollLimit: 8))
            guard let loaded = try? LoadedObject(object, options: options) else { return }
            _ = try? loaded.program(named: nil)
        case .verifier:
            Self.verifyAndRun(bytes)
        case .pcap:
            Self.readCapture(bytes)
        }
    }

    static let memory = [UInt8](repeating: 0x5a, count: 64)

    /// libpcap reads files: the input goes to a temporary one first.
    static func readCapture(_ bytes: [UInt8]) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-fuzz-\(getpid()).pcap").path
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { return }
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard let reader = try? CaptureReader(path: path) else { return }
        var records = 0
        while records < 100_000, let packet = try? reader.next() {
            records += 1
            _ = packet
        }
    }

    static func verifyAndRun(_ bytes: [UInt8]) {
        guard let program = try? Program(bytes: bytes), (try? program.validate()) != nil else { return }
        let options = LoadOptions(trace: { _ in }, verifierLimits: VerifierLimits(maxSteps: 20_000, unrollLimit: 8))
        guard let linked = try? LinkedProgram(program: program, type: ProgramTypes.mem, options: options),
              linked.verification.uninitializedRead == nil else { return }
        let limit: UInt64 = 100_000
        func outcome(_ engine: any ExecutionEngine) -> String? {
            guard let prepared = try? engine.prepare(linked.program, configuration: linked.engineConfiguration(instructionLimit: limit)),
                  let run = try? linked.makeRun(input: memory) else { return nil }
            return withExtendedLifetime(run) {
                do throws(ExecutionError) {
                    let r0 = try prepared.run(run.input)
                    return "r0 \(r0) memory \(run.output())"
                } catch {
                    if case .instructionLimit = error { return nil }   // engines charge the guard differently
                    return "error"
                }
            }
        }
        guard let host = Architecture.host, let jit = try? EngineCatalog.engine(.jit, architecture: host),
              let expected = outcome(Interpreter()), let actual = outcome(jit) else { return }
        if expected != actual {
            fatalError("""
                the \(host) JIT and the interpreter differ on a verified program: \(actual) against \(expected)
                \(Disassembler.disassemble(linked.program, style: .llvm))
                """)
        }
    }
}

#if BPFKIT_LIBFUZZER
/// The target is chosen by `BPFKIT_FUZZ_TARGET` (libFuzzer owns the command line).
nonisolated(unsafe) let selected: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["BPFKIT_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        fatalError("set BPFKIT_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    selected.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
#else
@main
enum Replay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            print("usage: BPFFuzzTargets \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE...")
            exit(2)
        }
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("\(path): cannot read")
                exit(2)
            }
            target.run([UInt8](data))
            print("\(path): ok")
        }
    }
}
#endif
