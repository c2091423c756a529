// `import BPFKit` is enough to embed BPFKit: this module re-exports what an
// embedder uses besides the facade itself.
//
// - BPFISA: instructions, programs, their encoding.
// - BPFAssembler: assembly text to programs and back (`Assembler`, `Disassembler`).
// - BPFRuntime: helpers (`Helper`, `HelperRegistry`, `HelperPrototype`), memory
//   regions, run inputs, the engine protocols and `ExecutionError`.
// - BPFMaps: maps (`BPFMap`, hash, array, per-CPU, ring buffer) with host
//   lookup, update, delete and ring-buffer consumption.
// - BPFHelpers: the kernel's helpers (`KernelHelper`) and program types
//   (`ProgramType`, `ProgramTypes`).
// - BPFELF and BPFLoader: `clang -target bpf` objects, their maps and programs.
// - BPFVerifier: the verifier and its policies (`VerifierPolicy`, `VerifierLimits`).
// - BPFInterpreter and BPFJIT: the engines (`Interpreter`, `JITArchitecture`).
@_exported import BPFISA
@_exported import BPFAssembler
@_exported import BPFRuntime
@_exported import BPFMaps
@_exported import BPFHelpers
@_exported import BPFELF
@_exported import BPFLoader
@_exported import BPFVerifier
@_exported import BPFInterpreter
@_exported import BPFJIT
