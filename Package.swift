// swift-tools-version: 6.1
//
// BPFKit: an eBPF toolkit whose heart is a set of JIT compilers.
//
// One target per concern; dependencies point one way (see docs/ARCHITECTURE.md):
//
//   BPFISA  <-  BPFAssembler
//     ^            ^
//   BPFRuntime     |
//     ^            |
//   engines (BPFInterpreter, BPFJIT + one target per backend)
//     ^
//   BPFKit (facade: load, check, pick an engine, run)  <-  BPFConformance
//     ^
//   BPFCommandLine (library of commands)  <-  bpfkit (thin @main)
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

let package = Package(
    name: "BPFKit",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "BPFISA", targets: ["BPFISA"]),
        .library(name: "BPFAssembler", targets: ["BPFAssembler"]),
        .library(name: "BPFConformance", targets: ["BPFConformance"]),
        .library(name: "BPFEmulator", targets: ["BPFEmulator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // The instruction set: typed instructions, wire encoding, programs.
        .target(name: "BPFISA", swiftSettings: swiftSettings),
        .testTarget(name: "BPFISATests", dependencies: ["BPFISA"], swiftSettings: swiftSettings),

        // What every engine serves programs with: helpers, memory regions, run inputs, engine protocol.
        .target(name: "BPFRuntime", dependencies: ["BPFISA"], swiftSettings: swiftSettings),

        // Executable memory for JITed code: the program pack allocator,
        // write-xor-execute copy step, live patching, statistics.
        .target(name: "CBPFPlatform"),
        .target(name: "BPFExecMemory", dependencies: ["CBPFPlatform"], swiftSettings: swiftSettings),
        .testTarget(name: "BPFExecMemoryTests", dependencies: ["BPFExecMemory"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "BPFExecMemoryBenchmark",
            dependencies: ["BPFExecMemory"],
            swiftSettings: swiftSettings
        ),

        // Text front end and back end: the conformance-corpus assembly syntax, and
        // disassembly in that syntax or in LLVM's (llvm-objdump) syntax.
        .target(name: "BPFAssembler", dependencies: ["BPFISA"], swiftSettings: swiftSettings),

        // The conformance corpus: the `.data` file format (and, later, the runner).
        .target(name: "BPFConformance", dependencies: ["BPFISA", "BPFAssembler"], swiftSettings: swiftSettings),
        .testTarget(name: "BPFAssemblerTests", dependencies: ["BPFISA", "BPFAssembler", "BPFConformance"],
                    swiftSettings: swiftSettings),

        // Foreign-architecture JIT output under the Unicorn CPU emulator: the
        // shared emulated machine every non-host backend (arm64, arm32, MIPS32,
        // RISC-V) runs and is tested on.
        .systemLibrary(name: "CUnicorn", pkgConfig: "unicorn", providers: [.apt(["libunicorn-dev"])]),
        .target(name: "BPFEmulator", dependencies: ["CUnicorn", "BPFRuntime", "BPFISA"], swiftSettings: swiftSettings),
        .testTarget(name: "BPFEmulatorTests", dependencies: ["BPFEmulator", "BPFRuntime", "BPFISA"], swiftSettings: swiftSettings),
    ]
)
