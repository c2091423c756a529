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
        .library(name: "BPFKit", targets: ["BPFKit"]),
        .executable(name: "bpfkit", targets: ["bpfkit"]),
        .library(name: "BPFISA", targets: ["BPFISA"]),
        .library(name: "BPFJIT", targets: ["BPFJIT"]),
        .library(name: "BPFJITX86_64", targets: ["BPFJITX86_64"]),
        .library(name: "BPFJITArm64", targets: ["BPFJITArm64"]),
        .library(name: "BPFJITArm32", targets: ["BPFJITArm32"]),
        .library(name: "BPFJITMIPS32", targets: ["BPFJITMIPS32"]),
        .library(name: "BPFJITRISCV64", targets: ["BPFJITRISCV64"]),
        .library(name: "BPFNativeDisassembler", targets: ["BPFNativeDisassembler"]),
        .library(name: "BPFAssembler", targets: ["BPFAssembler"]),
        .library(name: "BPFLoader", targets: ["BPFLoader"]),

        .library(name: "BPFConformance", targets: ["BPFConformance"]),
        .library(name: "BPFEmulator", targets: ["BPFEmulator"]),
        .library(name: "BPFClassic", targets: ["BPFClassic"]),
        .library(name: "BPFPcap", targets: ["BPFPcap"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `swift package generate-documentation --target BPFKit` (Sources/BPFKit/BPFKit.docc).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        // The one lock (a pthread mutex with the state it guards), below every other module.
        .target(name: "BPFSync", swiftSettings: swiftSettings),

        // The instruction set: typed instructions, wire encoding, programs.
        .target(name: "BPFISA", swiftSettings: swiftSettings),
        .testTarget(name: "BPFISATests", dependencies: ["BPFISA"], swiftSettings: swiftSettings),

        // What every engine serves programs with: helpers, memory regions, run inputs, engine protocol.
        .target(name: "BPFRuntime", dependencies: ["BPFISA", "BPFSync", "CBPFAtomics"], swiftSettings: swiftSettings),

        // The verifier: proves accesses safe and runs bounded so engines may drop checks.
        .target(name: "BPFVerifier", dependencies: ["BPFISA", "BPFRuntime"], swiftSettings: swiftSettings),
        .testTarget(name: "BPFVerifierTests",
                    dependencies: ["BPFVerifier", "BPFISA", "BPFRuntime", "BPFInterpreter", "BPFLoader", "BPFHelpers", "BPFMaps", "BPFKit", "BPFTestSuite"],
                    swiftSettings: swiftSettings),

        // The JIT core every backend shares: code buffer, labels and fixups, pass driver,
        // run context and host routines, native programs.
        .target(name: "BPFJIT", dependencies: ["BPFISA", "BPFRuntime", "BPFExecMemory", "CBPFPlatform"], swiftSettings: swiftSettings),
        // The x86-64 backend: registers, encoder, frame and ABI, lowering.
        .target(name: "BPFJITX86_64", dependencies: ["BPFISA", "BPFRuntime", "BPFJIT", "BPFExecMemory"],
                swiftSettings: swiftSettings),
        // Capstone (Debian libcapstone-dev) and the disassembler wrapper for `dump jited`.
        .systemLibrary(name: "CCapstone", pkgConfig: "capstone", providers: [.apt(["libcapstone-dev"])]),
        .target(name: "BPFNativeDisassembler", dependencies: ["CCapstone", "BPFISA", "BPFJIT"], swiftSettings: swiftSettings),
        .testTarget(name: "BPFJITX86_64Tests",
                    dependencies: ["BPFBackendTestKit", "BPFISA", "BPFRuntime", "BPFJIT", "BPFJITX86_64", "BPFNativeDisassembler",
                                   "BPFExecMemory", "BPFAssembler", "BPFConformance", "BPFInterpreter", "BPFTestSuite",
                                   "BPFKit", "BPFLoader", "BPFHelpers", "BPFMaps", "BPFVerifier"],
                    swiftSettings: swiftSettings),
        .executableTarget(name: "BPFJITBenchmark",
                          dependencies: ["BPFISA", "BPFRuntime", "BPFJIT", "BPFJITX86_64", "BPFExecMemory", "BPFInterpreter", "BPFKit", "BPFJITArm64"],
                          swiftSettings: swiftSettings),
        // The arm64 backend: registers, encoder, frame and ABI, lowering; runs
        // natively on arm64 hosts and under the emulator everywhere.
        .target(name: "BPFJITArm64", dependencies: ["BPFISA", "BPFRuntime", "BPFJIT", "BPFExecMemory", "BPFEmulator"],
                swiftSettings: swiftSettings),
        // Uses the emulator: `scripts/test` runs it in a process of its own.
        .testTarget(name: "BPFJITArm64Tests",
                    dependencies: ["BPFBackendTestKit", "BPFISA", "BPFRuntime", "BPFJIT", "BPFJITArm64", "BPFEmulator", "BPFNativeDisassembler",
                                   "BPFConformance", "BPFInterpreter", "BPFTestSuite", "BPFKit", "BPFLoader", "BPFHelpers",
                                   "BPFMaps"],
                    swiftSettings: swiftSettings),
        .executableTarget(name: "BPFJITArm64Benchmark",
                          dependencies: ["BPFISA", "BPFRuntime", "BPFJIT", "BPFJITArm64", "BPFJITX86_64", "BPFEmulator",
                                         "BPFTestSuite", "BPFKit", "BPFLoader"],
                          swiftSettings: swiftSettings),
        // The arm32 backend (ARMv7-A, A32): BPF registers as pairs, helper
        // arguments by prototype (AAPCS); runs under the emulator.
        .target(name: "BPFJITArm32", dependencies: ["BPFISA", "BPFRuntime", "BPFJIT", "BPFEmulator", "BPFExecMemory"],
                swiftSettings: swiftSettings),
        // The matrix every backend's tests run from one row (test support, not a test target).
        .target(name: "BPFBackendTestKit", dependencies: ["BPFISA", "BPFRuntime", "BPFJIT", "BPFInterpreter", "BPFTestSuite", "BPFConformance", "BPFKit",
                                                          "BPFMatrix", "BPFAssembler", "BPFHelpers", "BPFLoader", "BPFMaps", "BPFVerifier"],
                path: "Tests/BPFBackendTestKit", swiftSettings: swiftSettings),
        // Uses the emulator: run it in a process of its own.
        .testTarget(name: "BPFJITArm32Tests",
                    dependencies: ["BPFBackendTestKit", "BPFISA", "BPFRuntime", "BPFJIT", "BPFJITArm32", "BPFEmulator", "BPFNativeDisassembler", "BPFExecMemory",
                                   "BPFConformance", "BPFInterpreter", "BPFTestSuite", "BPFKit", "BPFHelpers", "BPFLoader", "BPFMaps"],
                    swiftSettings: swiftSettings),
        // The MIPS32 backend (Release 2, both byte orders): BPF registers as
        // pairs, helper arguments by prototype (O32); runs under the emulator.
        .target(name: "BPFJITMIPS32", dependencies: ["BPFISA", "BPFRuntime", "BPFJIT", "BPFEmulator"],
                swiftSettings: swiftSettings),
        // Uses the emulator: run it in a process of its own.
        .testTarget(name: "BPFJITMIPS32Tests",
                    dependencies: ["BPFBackendTestKit", "BPFISA", "BPFRuntime", "BPFJIT", "BPFJITMIPS32", "BPFEmulator", "BPFNativeDisassembler",
                                   "BPFConformance", "BPFInterpreter", "BPFTestSuite", "BPFKit", "BPFHelpers", "BPFLoader", "BPFMaps"],
                    swiftSettings: swiftSettings),
        // The RISC-V 64 backend (RV64IMA, C optional): 64-bit registers, LP64
        // helper arguments in place; runs under the emulator.
        .target(name: "BPFJITRISCV64", dependencies: ["BPFISA", "BPFRuntime", "BPFJIT", "BPFEmulator", "BPFExecMemory"],
                swiftSettings: swiftSettings),
        // Uses the emulator: run it in a process of its own.
        .testTarget(name: "BPFJITRISCV64Tests",
                    dependencies: ["BPFBackendTestKit", "BPFISA", "BPFRuntime", "BPFJIT", "BPFJITRISCV64", "BPFEmulator", "BPFNativeDisassembler", "BPFExecMemory",
                                   "BPFConformance", "BPFInterpreter", "BPFTestSuite", "BPFKit", "BPFHelpers", "BPFLoader", "BPFMaps"],
                    swiftSettings: swiftSettings),
        // The facade: program files, engine choice, loading and running; the conformance runner.
        .target(name: "BPFKit", dependencies: ["BPFISA", "BPFRuntime", "BPFAssembler", "BPFConformance", "BPFInterpreter",
                                              "BPFMaps", "BPFHelpers", "BPFELF", "BPFLoader", "BPFVerifier", "BPFJIT", "BPFJITX86_64", "BPFJITArm64",
                                              "BPFJITArm32", "BPFJITMIPS32", "BPFJITRISCV64"],
                swiftSettings: swiftSettings),
        // The engine matrix's columns beyond the corpus (the generated suite,
        // the tail-call corpus) and the outcome of one run, shared by
        // `bpfkit conformance --matrix` and the backend test kit.
        .target(name: "BPFMatrix", dependencies: ["BPFKit", "BPFISA", "BPFRuntime", "BPFInterpreter", "BPFTestSuite", "BPFLoader",
                                                 "BPFHelpers", "BPFMaps", "BPFVerifier"],
                swiftSettings: swiftSettings),
        // The commands of `bpfkit`, as a testable library; `bpfkit` itself is a thin @main.
        .target(name: "BPFCommandLine", dependencies: [
            "BPFKit", "BPFMatrix", "BPFAssembler", "BPFMaps", "BPFNativeDisassembler", "BPFExecMemory", "BPFJIT", "BPFJITX86_64", "BPFJITArm64", "BPFEmulator", "BPFLoader", "BPFRuntime",
            "BPFHelpers", "BPFVerifier", "BPFClassic", "BPFPcap", "BPFTestSuite",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: swiftSettings),
        .testTarget(name: "BPFKitTests", dependencies: ["BPFKit", "BPFAssembler", "BPFTestSuite"], swiftSettings: swiftSettings),
        // Tail calls on every engine: semantics, limits, frames, live patching under concurrency.
        .testTarget(name: "BPFTailCallTests",
                    dependencies: ["BPFKit", "BPFISA", "BPFRuntime", "BPFMaps", "BPFLoader", "BPFHelpers", "BPFInterpreter",
                                   "BPFJIT", "BPFJITX86_64", "BPFExecMemory", "BPFNativeDisassembler", "BPFTestSuite"],
                    swiftSettings: swiftSettings),
        // Attack programs (Tests/Fixtures/adversarial) and the proof-aimed differential fuzzer:
        // every engine must end as the interpreter does, or the load must be refused.
        // Its Emulated* suites use the emulator: `scripts/test` runs them with the emulator's tests.
        .testTarget(name: "BPFAdversarialTests",
                    dependencies: ["BPFKit", "BPFISA", "BPFRuntime", "BPFMaps", "BPFLoader", "BPFHelpers", "BPFInterpreter",
                                   "BPFVerifier", "BPFJIT", "BPFJITX86_64", "BPFJITArm64", "BPFAssembler", "BPFTestSuite"],
                    swiftSettings: swiftSettings),
        .executableTarget(name: "bpfkit", dependencies: ["BPFCommandLine"], swiftSettings: swiftSettings),
        // The differential campaign on every built backend (`scripts/fuzz`): generated programs
        // against the interpreter, divergences reduced and written as reproducers.
        // The campaign's oracle: whether a JIT's outcomes agree with the interpreter's.
        .target(name: "BPFDifferential", swiftSettings: swiftSettings),
        .testTarget(name: "BPFDifferentialTests", dependencies: ["BPFDifferential"], swiftSettings: swiftSettings),
        .executableTarget(name: "BPFFuzzCampaign",
                          dependencies: ["BPFKit", "BPFAssembler", "BPFDifferential", "BPFExecMemory", "BPFHelpers", "BPFISA", "BPFInterpreter", "BPFLoader", "BPFMaps",
                                         "BPFRuntime", "BPFTestSuite", "BPFVerifier",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: swiftSettings),
        // Coverage-guided fuzz targets (decoder, assembler, ELF loader, verifier): a libFuzzer
        // binary when built with `--sanitize fuzzer -Xswiftc -DBPFKIT_LIBFUZZER`, an input replayer otherwise.
        .executableTarget(name: "BPFFuzzTargets",
                          dependencies: ["BPFKit", "BPFAssembler", "BPFELF", "BPFHelpers", "BPFInterpreter", "BPFISA", "BPFLoader",
                                         "BPFRuntime", "BPFVerifier", "BPFPcap"],
                          swiftSettings: swiftSettings),
        // Running the built `bpfkit` as a user would, for every command-line test target.
        .target(name: "BPFCommandTestSupport", path: "Tests/BPFCommandTestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "BPFCommandLineTests", dependencies: ["bpfkit", "BPFCommandTestSupport"], swiftSettings: swiftSettings),

        // Executable memory for JITed code: the program pack allocator,
        // write-xor-execute copy step, live patching, statistics.
        .target(name: "CBPFPlatform"),
        .target(name: "BPFExecMemory", dependencies: ["BPFSync", "CBPFPlatform"], swiftSettings: swiftSettings),
        .testTarget(name: "BPFExecMemoryTests", dependencies: ["BPFExecMemory"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "BPFExecMemoryBenchmark",
            dependencies: ["BPFExecMemory", "BPFISA", "BPFJITX86_64"],
            swiftSettings: swiftSettings
        ),

        // Text front end and back end: the conformance-corpus assembly syntax, and
        // disassembly in that syntax or in LLVM's (llvm-objdump) syntax.
        .target(name: "BPFAssembler", dependencies: ["BPFISA"], swiftSettings: swiftSettings),

        // The conformance corpus: the `.data` file format (and, later, the runner).
        .target(name: "BPFConformance", dependencies: ["BPFISA", "BPFAssembler"], swiftSettings: swiftSettings),
        .testTarget(name: "BPFAssemblerTests", dependencies: ["BPFISA", "BPFAssembler", "BPFConformance"],
                    swiftSettings: swiftSettings),

        // C11 atomics on host memory for the ATOMIC instructions (header-only shim).
        .target(name: "CBPFAtomics"),
        // The reference interpreter: pre-decoded, checked, RFC 9669 exact.
        .target(name: "BPFInterpreter", dependencies: ["BPFISA", "BPFRuntime", "CBPFAtomics"], swiftSettings: swiftSettings),
        .testTarget(name: "BPFInterpreterTests", dependencies: ["BPFInterpreter", "BPFTestSuite", "BPFRuntime"],
                    swiftSettings: swiftSettings),

        // A quick release-mode speed figure for the interpreter (FNV-1a over 1,500 bytes).
        .executableTarget(name: "BPFInterpreterBench", dependencies: ["BPFInterpreter", "BPFRuntime", "BPFTestSuite"],
                          swiftSettings: swiftSettings),

        // Release-mode figures for the verifier's work on programs built to be costly to verify.
        .executableTarget(name: "BPFVerifierBench", dependencies: ["BPFISA", "BPFVerifier", "BPFTestSuite"],
                          swiftSettings: swiftSettings),

        // Generated programs with independently computed results, run by every engine's tests.
        .target(name: "BPFTestSuite", dependencies: ["BPFISA", "BPFRuntime", "BPFHelpers"], swiftSettings: swiftSettings),

        // Maps with the kernel's semantics, in stable host storage the engines' memory checks can see.
        .target(name: "BPFMaps", dependencies: ["BPFRuntime", "BPFSync", "CBPFAtomics"], swiftSettings: swiftSettings),
        .testTarget(name: "BPFMapsTests", dependencies: ["BPFMaps", "BPFRuntime"], swiftSettings: swiftSettings),

        // The kernel's numbered helpers, program types (mem, xdp) and load-time rewriting
        // (map references, context accesses).
        .target(name: "BPFHelpers", dependencies: ["BPFISA", "BPFRuntime", "BPFMaps", "BPFVerifier"], swiftSettings: swiftSettings),
        .testTarget(name: "BPFHelpersTests", dependencies: ["BPFHelpers"], swiftSettings: swiftSettings),

        // ELF64 + BTF + relocations -> a description of programs, maps and global data.
        .target(name: "BPFELF", dependencies: ["BPFISA", "BPFMaps"], swiftSettings: swiftSettings),
        .testTarget(name: "BPFELFTests", dependencies: ["BPFELF"], swiftSettings: swiftSettings),

        // Object description -> instantiated maps, rewritten programs, helpers and run inputs.
        .target(name: "BPFLoader", dependencies: ["BPFELF", "BPFHelpers", "BPFVerifier"], swiftSettings: swiftSettings),
        // Examples built with clang and run on every engine, the kernel differential, corrupted objects.
        .testTarget(name: "BPFLoaderTests", dependencies: ["BPFLoader", "BPFELF", "BPFHelpers", "BPFMaps", "BPFInterpreter", "BPFKit",
                                                         "BPFTestSuite"],
                    swiftSettings: swiftSettings),

        // Foreign-architecture JIT output under the Unicorn CPU emulator: the
        // shared emulated machine every non-host backend (arm64, arm32, MIPS32,
        // RISC-V) runs and is tested on.
        .systemLibrary(name: "CUnicorn", pkgConfig: "unicorn", providers: [.apt(["libunicorn-dev"])]),
        .target(name: "BPFEmulator", dependencies: ["CUnicorn", "BPFRuntime", "BPFISA", "BPFJIT"], swiftSettings: swiftSettings),
        .testTarget(name: "BPFEmulatorTests", dependencies: ["BPFEmulator", "BPFRuntime", "BPFISA"], swiftSettings: swiftSettings),

        // Classic BPF (cBPF): the instruction model, `struct sock_filter` and
        // `tcpdump -ddd` decoding, the kernel's checks, the translation to
        // eBPF and the socket-filter context the translated program runs on.
        .target(name: "BPFClassic", dependencies: ["BPFISA", "BPFRuntime", "BPFMaps", "BPFVerifier", "BPFHelpers", "BPFLoader"],
                swiftSettings: swiftSettings),
        // libpcap (Debian libpcap-dev): pcap and pcapng in and out, and
        // filter expressions compiled to cBPF by pcap_compile.
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        .target(name: "BPFPcap", dependencies: ["CPcap", "BPFClassic"], swiftSettings: swiftSettings),
        // Release-mode figures: classic filters on the interpreter and the
        // x86-64 JIT against libpcap's pcap_offline_filter.
        .executableTarget(name: "BPFFilterBenchmark",
                          dependencies: ["BPFClassic", "BPFPcap", "BPFRuntime", "BPFInterpreter", "BPFJITX86_64"],
                          swiftSettings: swiftSettings),
        .testTarget(name: "BPFClassicTests",
                    dependencies: ["BPFClassic", "BPFPcap", "BPFISA", "BPFRuntime", "BPFKit", "BPFLoader", "BPFHelpers", "BPFJIT", "bpfkit", "BPFCommandTestSupport"],
                    swiftSettings: swiftSettings),
    ]
)
