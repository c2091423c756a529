import ArgumentParser
import BPFAssembler
import BPFKit

/// `bpfkit dump`: show a program as the loader and the JITs see it.
struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump", abstract: "Show a program after loading (xlated) or as native code (jited).",
        subcommands: [Xlated.self])

    struct Xlated: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "xlated", abstract: "The BPF program after the loader's rewrites.")

        @Argument(help: "Program file.")
        var program: String

        @Option(name: .long, help: "Syntax: conformance or llvm.")
        var style: String = "llvm"

        @OptionGroup var objectOptions: ObjectOptions

        func run() throws {
            let file: ProgramFile
            do { file = try ProgramFile.load(path: program, objectOptions.request()) } catch { throw fail(error.description) }
            let syntax: DisassemblyStyle = style == "conformance" ? .conformance : .llvm
            for (pc, instruction) in file.linked.program.instructions.enumerated() where instruction != .immediate64Tail {
                print(String(format: "%4d: ", pc) + Disassembler.text(of: instruction, at: pc, style: syntax))
            }
        }
    }
}
