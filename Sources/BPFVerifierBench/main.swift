// Release-mode figures for the verifier's worst cases: programs built to be
// as costly to verify as their size allows (`VerifierCostAttacks`), with
// the time each takes and the work it was charged in the verifier's own
// cost units. Build and run in release mode:
//
//     swift run -c release BPFVerifierBench [size]
//
// Tests assert the budget in cost units; only this measures time.
import BPFISA
import Foundation
import BPFTestSuite
import BPFVerifier

let size = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 4_096
let limits = VerifierLimits()
print("budget: \(limits.maxCost) cost units, \(limits.maxSteps) instruction visits, \(limits.maxStoredStates) stored states")
var slowest = Duration.zero
for attack in VerifierCostAttacks.shapes(size: size) {
    let program = Program(attack.instructions, name: "attack")
    let report = Verifier.verify(program, environment: VerifierEnvironment(), limits: limits)
    slowest = max(slowest, report.duration)
    let outcome = report.gaveUp == nil ? "verified" : "gave up"
    let ms = Double(report.duration.components.attoseconds) / 1e15 + Double(report.duration.components.seconds) * 1e3
    let fields = [attack.name.padding(toLength: 38, withPad: " ", startingAt: 0),
                  "\(program.count) insns", outcome, "\(report.steps) steps", "\(report.cost) units",
                  "\(report.peakStoredStates) states kept", String(format: "%.1f ms", ms)]
    print(fields.joined(separator: "  "))
}
print("slowest: \(slowest)")
