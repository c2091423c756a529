import ArgumentParser
import BPFKit
import BPFHelpers
import BPFLoader
import BPFVerifier

/// `bpfkit verify`: what BPFKit's verifier proves about each program of a file.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Show what the verifier proves: accesses safe without run-time checks, termination, register initialization.",
        discussion: """
            BPFKit runs every program safely whether or not it is verified: what the verifier cannot prove keeps \
            its run-time check. For an object (.o, .c) every program is verified unless --program or --section picks one.
            """
    )

    @Argument(help: "The program file.")
    var program: String

    @OptionGroup var objectOptions: ObjectOptions

    @Flag(name: .long, help: "Exit with status 1 if anything is not proven (as the kernel would reject the program).")
    var strict = false

    @Flag(name: .long, help: "List every access that keeps its check, with the reason.")
    var log = false

    @Flag(name: .long, help: "Print the verifier's work: instruction visits, cost units against the budget, states kept, time.")
    var stats = false

    func run() throws {
        let file: ProgramFile
        let request = try objectOptions.request()
        do { file = try ProgramFile.load(path: program, request) } catch { throw fail(error.description) }
        var programs: [LinkedProgram] = [file.linked]
        var everything = true
        if let object = file.object, objectOptions.programName == nil, objectOptions.section == nil {
            programs = []
            for candidate in object.object.programs {
                var type = objectOptions.type.flatMap { ProgramTypes.named($0) }
                if let chosen = type { type = try? ProgramFile.withMaxInput(chosen, request.maxInput) }
                do { programs.append(try object.program(named: candidate.name, section: candidate.section, type: type)) } catch {
                    print("\(candidate.name) (section \(candidate.section)): not loadable: \(error)")
                    everything = false
                }
            }
        }
        for linked in programs {
            let report = linked.verification
            let title = linked.section.isEmpty ? linked.name : "\(linked.name) (section \(linked.section))"
            print("\(title): \(report.summary)")
            if stats {
                print("  work: \(report.steps) instruction visits, \(report.cost) cost units of \(VerifierLimits().maxCost), "
                      + "\(report.peakStoredStates) states kept at most")
                let hottest = report.visits.indices.filter { report.visits[$0] > 0 }
                    .sorted { (report.visits[$0], $1) > (report.visits[$1], $0) }.prefix(12)
                print("  most visited instructions: " + hottest.map { "\($0) (\(report.visits[$0]))" }.joined(separator: ", "))
            }
            if log {
                for line in report.log {
                    print("  " + SourceLines.annotate(line, indent: "    ") { pc in
                        file.object?.object.programs.first { $0.name == linked.name }?.sourceLine(at: pc)
                    })
                }
            }
            everything = everything && report.provesEverything
        }
        if strict && !everything { throw ExitCode(1) }
    }
}
