// Loads 10,000 small programs into executable memory twice, with the program
// pack and with one page-aligned mapping per program, and compares resident
// memory, load latency and the time to call every program round-robin.
//
//   swift run -c release BPFExecMemoryBenchmark [programs] [repeats] [--hand-encoded]
//
// The programs are compiled by the x86-64 JIT (see `JITImages`).

import BPFExecMemory
import Foundation

#if !arch(x86_64)
print("BPFExecMemoryBenchmark: the sample programs are x86-64 code; run it on an x86-64 host")
exit(0)
#else

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let programCount = arguments.first ?? 10_000
let repeats = arguments.dropFirst().first ?? 5
let callPasses = 5
/// `--hand-encoded` measures six-byte `mov eax, i; ret` images instead of JIT output.
let source: any ImageSource = CommandLine.arguments.contains("--hand-encoded") ? MoveReturnImages() : JITImages()

/// What one repeat measured for one layout.
struct Sample {
    var residentDelta: Int
    var pageTableDelta: Int
    var mappedBytes: Int
    var allocate: [Int]
    var copy: [Int]
    /// Nanoseconds to call every program once, median over passes.
    var callAll: Int
}

typealias Program = @convention(c) () -> UInt32

func measure(_ layout: ProgramLayout) throws -> Sample {
    let residentBefore = ProcessMemory.resident
    let pageTablesBefore = ProcessMemory.pageTables
    var programs: [Program] = []
    programs.reserveCapacity(programCount)
    var allocate: [Int] = []
    var copy: [Int] = []
    allocate.reserveCapacity(programCount)
    copy.reserveCapacity(programCount)
    for index in 0..<programCount {
        let (address, timing) = try layout.load(source.image(for: index))
        programs.append(address.unsafeFunction(as: Program.self))
        allocate.append(timing.allocate)
        copy.append(timing.copy)
    }
    try layout.touchAll()

    var expected: UInt64 = 0
    for index in 0..<programCount {
        expected &+= UInt64(source.expectedResult(for: index))
    }
    var passes: [Int] = []
    for _ in 0..<callPasses {
        let start = Clock.nanoseconds()
        var sum: UInt64 = 0
        for program in programs {
            sum &+= UInt64(program())
        }
        passes.append(Clock.nanoseconds() - start)
        precondition(sum == expected, "\(layout.name): programs returned wrong results")
    }
    let sample = Sample(
        residentDelta: ProcessMemory.resident - residentBefore,
        pageTableDelta: ProcessMemory.pageTables - pageTablesBefore,
        mappedBytes: layout.mappedBytes, allocate: allocate, copy: copy, callAll: passes.median)
    layout.unloadAll()
    return sample
}

let pack = ProgramPack(trap: .x86_64)
let layouts: [ProgramLayout] = [PackLayout(pack: pack), PagePerProgramLayout()]
var samples: [String: [Sample]] = [:]
for round in 0..<repeats {
    // Alternate the order so neither layout always runs on a warmer process.
    for layout in round % 2 == 0 ? layouts : layouts.reversed() {
        samples[layout.name, default: []].append(try measure(layout))
    }
}

// One more pack load to show its statistics while full.
let shown = PackLayout(pack: pack)
for index in 0..<programCount {
    _ = try shown.load(source.image(for: index))
}
let packStatistics = shown.statistics
shown.unloadAll()

/// Medians over repeats of each figure.
struct Summary {
    var resident: Int
    var pageTables: Int
    var mapped: Int
    var allocateP50: Int
    var allocateP99: Int
    var copyP50: Int
    var copyP99: Int
    var callAll: Int

    init(_ samples: [Sample]) {
        resident = samples.map(\.residentDelta).median
        pageTables = samples.map(\.pageTableDelta).median
        mapped = samples.map(\.mappedBytes).median
        allocateP50 = samples.map { $0.allocate.percentile(0.5) }.median
        allocateP99 = samples.map { $0.allocate.percentile(0.99) }.median
        copyP50 = samples.map { $0.copy.percentile(0.5) }.median
        copyP99 = samples.map { $0.copy.percentile(0.99) }.median
        callAll = samples.map(\.callAll).median
    }
}

let summaries = layouts.map { ($0.name, Summary(samples[$0.name] ?? [])) }
print("BPFExecMemoryBenchmark: \(programCount) programs of \(source.image(for: 0).count) bytes, "
    + "median of \(repeats) repeats (calls: median of \(callPasses) passes)")
print("")
let columns = [
    ("layout", 18), ("resident Δ", 12), ("page tables Δ", 14), ("mapped", 11), ("alloc p50", 10),
    ("alloc p99", 10), ("copy p50", 10), ("copy p99", 10), ("call all", 10), ("per call", 9),
]
print(columns.map { Format.padded($0.0, $0.1) }.joined(separator: " "))
print(columns.map { String(repeating: "-", count: $0.1) }.joined(separator: " "))
for (name, summary) in summaries {
    let cells = [
        name, Format.mebibytes(summary.resident), Format.mebibytes(summary.pageTables),
        Format.mebibytes(summary.mapped), Format.nanoseconds(summary.allocateP50),
        Format.nanoseconds(summary.allocateP99), Format.nanoseconds(summary.copyP50),
        Format.nanoseconds(summary.copyP99), Format.nanoseconds(summary.callAll),
        String(format: "%.1f ns", Double(summary.callAll) / Double(programCount)),
    ]
    print(zip(cells, columns).map { Format.padded($0, $1.1) }.joined(separator: " "))
}
let packSummary = summaries[0].1
let pageSummary = summaries[1].1
print("")
print(String(
    format: "resident memory: page-per-program / pack = %.1f× (target ≥ 10×); mapped: %.1f×",
    Double(pageSummary.resident) / Double(max(packSummary.resident, 1)),
    Double(pageSummary.mapped) / Double(max(packSummary.mapped, 1))))
print(String(
    format: "call all round-robin: page-per-program / pack = %.2f×",
    Double(pageSummary.callAll) / Double(max(packSummary.callAll, 1))))
print("resident Δ is VmRSS after loading and touching every page of executable memory, minus before.")
print("alloc is allocate (pack) or mmap (page); copy is copy through a transient view (pack) or write + mprotect (page).")
print("")
print(packStatistics.description)
#endif
