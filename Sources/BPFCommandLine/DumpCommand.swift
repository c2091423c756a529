import ArgumentParser
import BPFAssembler
import BPFKit
import BPFLoader
import BPFNativeDisassembler

/// `bpfkit dump`: show a program as the loader and the JITs see it.
struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump", abstract: "Show a program after loading (xlated) or as native code (jited).",
        subcommands: [Xlated.self, Jited.self])

    struct Xlated: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "xlated", abstract: "The BPF program after the loader's rewrites.")

        @Argument(help: "Program file.")
        var program: String

        @Option(name: .long, help: "Syntax: conformance or llvm.")
        var style: String = "llvm"

        @OptionGroup var objectOptions: ObjectOptions

        func run() throws {
            let file: ProgramFile
            let request = try objectOptions.request()
            do { file = try ProgramFile.load(path: program, request) } catch { throw fail(error.description) }
            let syntax: DisassemblyStyle = style == "conformance" ? .conformance : .llvm
            var lastLine: SourceLine?
            for (pc, instruction) in file.linked.program.instructions.enumerated() where instruction != .immediate64Tail {
                // The C line, bpftool-style, where it changes (objects with BTF line information).
                if let line = file.sourceLine(at: pc), line.file != lastLine?.file || line.line != lastLine?.line {
                    print("; \(line)")
                    lastLine = line
                }
                let comment = Disassembler.comment(for: instruction).map { "  # \($0)" } ?? ""
                print(String(format: "%4d: ", pc) + Disassembler.text(of: instruction, at: pc, style: syntax) + comment)
            }
        }
    }

    struct Jited: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "jited",
            abstract: "Each BPF instruction followed by its native code (Capstone), the image size and call statistics.")

        @Argument(help: "Program file.")
        var program: String

        @Option(name: .long, help: ArgumentHelp("Target architecture: \(EngineOptions.builtArchitectureList) (default: the host).",
                                                valueName: "arch"),
                completion: .list(EngineCatalog.builtArchitectures.map(\.rawValue)))
        var arch: String?

        @Flag(name: .long, help: "Hardened JIT: blind every constant the program chooses (the kernel's bpf_jit_harden).")
        var harden = false

        @OptionGroup var riscvOptions: RISCVExtensionOptions

        @Option(name: .long, help: "Also write the image's bytes, exactly as placed, to this file.")
        var raw: String?

        @OptionGroup var objectOptions: ObjectOptions

        func run() throws {
            let architecture: Architecture
            if let arch {
                architecture = try EngineOptions.architecture(named: arch)
            } else {
                guard let host = Architecture.host else { throw fail("no JIT backend for this host; choose one with --arch") }
                architecture = host
            }
            try list(architecture, target: try riscvOptions.target(applies: architecture == .riscv64))
        }

        private func list(_ architecture: Architecture, target: JITTargetOptions) throws {
            let file: ProgramFile
            var request = try objectOptions.request()
            request.byteOrder = architecture.byteOrder == .big ? .big : nil   // C for mips32be is compiled -target bpfeb
            do { file = try ProgramFile.load(path: program, request) } catch { throw fail(error.description) }
            do {
                try file.linked.checkByteOrder(architecture.byteOrder, engine: "\(architecture) JIT")
                let image = try EngineCatalog.jitImage(file.linked.program, architecture: architecture,
                                                       configuration: file.linked.engineConfiguration(hardened: harden), target: target)
                if let raw { try writeFile(raw, image.bytes) }
                let listing = try JITListing(image: image, program: file.linked.program) {
                    Disassembler.text(of: $0, at: 0, style: .llvm) + (Disassembler.comment(for: $0).map { "  # \($0)" } ?? "")
                }
                print(listing.text, terminator: "")
            } catch {
                throw fail("\(program): \(error)")
            }
        }
    }
}
