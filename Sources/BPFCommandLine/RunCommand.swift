import ArgumentParser
import Foundation
import BPFKit
import BPFRuntime

/// `bpfkit run`: load a program, run it, print r0.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a program: assembly (.s/.asm), a corpus test (.data) or raw bytes (.bin).",
        discussion: "r1 points to the input memory and r2 holds its length. Prints r0."
    )

    @Argument(help: "The program file.")
    var program: String

    @Option(name: .customLong("data-in"), help: "File whose bytes are the input memory.")
    var dataIn: String?

    @Option(name: .long, help: "Input memory as hex bytes, e.g. \"00 01 ff\".")
    var mem: String?

    @Option(name: .customLong("data-out"), help: "Write the memory as the program left it to this file.")
    var dataOut: String?

    @Option(name: .long, help: "Run this many times; the duration is the mean per run.")
    var `repeat`: Int = 1

    @Option(name: .customLong("instruction-limit"), help: "Stop a run after this many instructions.")
    var instructionLimit: UInt64 = ExecutionLimits.defaultInstructionLimit

    @OptionGroup var engineOptions: EngineOptions

    @Flag(name: .long, help: "Print one JSON object: retval, duration_ns, engine.")
    var json = false

    func run() throws {
        guard self.repeat >= 1 else { throw fail("--repeat must be at least 1") }
        if dataIn != nil && mem != nil { throw fail("give --data-in or --mem, not both") }
        let (engine, architecture) = try engineOptions.resolve()

        let file: ProgramFile
        do { file = try ProgramFile.load(path: program) } catch { throw fail(error.description) }
        var memory = file.memory ?? []
        if let dataIn { memory = Array(try readFile(dataIn)) }
        if let mem { memory = try parseHexBytes(mem, what: "--mem") }

        let loaded: LoadedProgram
        do {
            loaded = try LoadedProgram(file.program, engine: engine, architecture: architecture,
                                       helpers: ConformanceRunner.helpers, instructionLimit: instructionLimit)
        } catch { throw fail("\(program): \(error)") }

        let guest = GuestMemory(bytes: memory)
        var r0: UInt64 = 0
        var total: UInt64 = 0
        for _ in 0..<self.repeat {
            if self.repeat > 1 { guest.write(memory, at: 0) }
            let start = DispatchTime.now().uptimeNanoseconds
            do { r0 = try loaded.run(guest) } catch { throw fail("\(program): \(error)") }
            total += DispatchTime.now().uptimeNanoseconds - start
        }
        if let dataOut { try writeFile(dataOut, guest.read()) }
        let duration = total / UInt64(self.repeat)
        if json {
            print("{\"retval\":\(r0),\"duration_ns\":\(duration),\"engine\":\"\(loaded.engineName)\",\"repeat\":\(self.repeat)}")
        } else {
            print("0x\(String(r0, radix: 16))")
        }
    }
}
