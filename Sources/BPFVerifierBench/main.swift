// Release-mode figures for the verifier's worst cases: programs built to be
// as costly to verify as their size allows (`VerifierCostAttacks`), with
// the time each takes and the work it was charged in the verifier's own
// cost units. Build and run in release mode:
//
//     swift run -c release BPFVerifierBench [size]
//
// Tests assert the budget in cost units; only this measures time. Both
// wall time and this process's CPU time are shown (a loaded machine
// stretches the first).
import BPFISA
import BPFTestSuite
import BPFVerifier
import Foundation

#if os(Linux)
let myself = Int32(RUSAGE_SELF.rawValue)
#else
let myself = RUSAGE_SELF
#endif

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(myself, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

let size = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 4_096
let limits = VerifierLimits()
print("budget: \(limits.maxCost) cost units, \(limits.maxSteps) instruction visits, \(limits.maxStoredStates) stored states")
var slowest = 0.0
for attack in VerifierCostAttacks.shapes(size: size) {
    let program = Program(attack.instructions, name: "attack")
    let cpu = cpuSeconds()
    let report = Verifier.verify(program, environment: VerifierEnvironment(), limits: limits)
    let cpuMs = (cpuSeconds() - cpu) * 1e3
    slowest = max(slowest, cpuMs)
    let outcome = report.gaveUp == nil ? "verified" : "gave up"
    let ms = Double(report.duration.components.attoseconds) / 1e15 + Double(report.duration.components.seconds) * 1e3
    let fields = [attack.name.padding(toLength: 38, withPad: " ", startingAt: 0),
                  "\(program.count) insns", outcome, "\(report.steps) steps", "\(report.cost) units",
                  "\(report.peakStoredStates) states kept", String(format: "%.0f ms (cpu %.0f ms)", ms, cpuMs)]
    print(fields.joined(separator: "  "))
}
var usage = rusage()
getrusage(myself, &usage)
print(String(format: "slowest: %.0f ms cpu; peak memory %.0f MiB", slowest, Double(usage.ru_maxrss) / 1024))
