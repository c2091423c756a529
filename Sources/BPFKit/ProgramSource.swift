import Foundation
import BPFISA
import BPFAssembler
import BPFConformance
import BPFHelpers
import BPFLoader
import BPFRuntime
import BPFVerifier

/// A program as it arrives: a file on disk in one of the formats BPFKit reads.
public enum ProgramFormat: String, Sendable, CaseIterable {
    /// Assembly in the conformance-corpus syntax (`.s`, `.asm`).
    case assembly
    /// Raw instruction bytes, little endian (`.bin`).
    case raw
    /// A conformance corpus test (`.data`): assembly or raw, plus memory and expectation.
    case conformance
    /// An ELF object from `clang -target bpf`, `bpfel` or `bpfeb` (`.o`).
    case object
    /// C source, compiled with clang `-O2 -g -target bpf` first (`.c`;
    /// `bpfeb` for a big-endian engine, see `LoadRequest.byteOrder`).
    case c

    /// The format a file name's extension implies.
    public init?(path: String) {
        switch (path as NSString).pathExtension.lowercased() {
        case "s", "asm": self = .assembly
        case "bin", "raw": self = .raw
        case "data": self = .conformance
        case "o", "elf": self = .object
        case "c": self = .c
        default: return nil
        }
    }
}

/// Errors reading a program file, each naming the file and, where it applies, the line or instruction.
public struct LoadError: Error, Sendable, CustomStringConvertible {
    /// The file, or nil when the error is not about one file.
    public var path: String?
    /// What is wrong, starting with `line N:` or `instruction N:` where that applies.
    public var message: String

    public init(path: String? = nil, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.map { "\($0): \(message)" } ?? message }
}

/// How to pick and prepare a program from a file.
public struct LoadRequest: Sendable {
    /// The program type by name, as the command line gives it (`mem`, `xdp`);
    /// default: from the ELF section, else `mem`. `programType` wins over it.
    public var type: String?
    /// The program type as a value (`.xdp`, `.mem`); default: `type`.
    public var programType: (any ProgramType)?
    /// For `mem` programs: the longest input (`MemProgramType.maxInput`,
    /// default 4,096 bytes, at most 65,535); the verifier's proofs assume
    /// it and runs refuse longer inputs. Applies to the type `type` names
    /// or to the default `mem`; refused for other types.
    public var maxInput: Int?
    /// ELF section to take the program from.
    public var section: String?
    /// Function name of the program in an ELF object.
    public var programName: String?
    /// clang for `.c` files (default: the Swift toolchain's).
    public var clang: String?
    /// `-mcpu` for `.c` files.
    public var cpu: String
    /// The byte order `.c` files are compiled for (`-target bpfel` or
    /// `bpfeb`; nil: `-target bpf`, the host's).
    public var byteOrder: ByteOrder?
    /// Embedder helpers, over the kernel's.
    public var helpers: HelperRegistry
    /// Embedder functions C programs call as kfuncs (`extern ... __ksym`).
    public var kernelFunctions = KernelFunctions()
    /// Where `bpf_trace_printk` output goes.
    public var trace: @Sendable (String) -> Void
    /// Whether the verifier runs (engines then leave out the checks it makes
    /// unnecessary); false runs everything fully checked.
    public var verify: Bool = true
    /// What the host trusts the program with: `.unprivileged` refuses
    /// programs that may leak a pointer, and requires `verify`.
    public var policy: VerifierPolicy = .privileged
    /// What CO-RE relocations of an object resolve against (see `CORETarget`):
    /// default, the running kernel's BTF when readable, else the object's own types.
    public var coreTarget: CORETarget = .runningKernelOrObjectTypes
    /// The routing table `bpf_fib_lookup` answers from (nil: no routes).
    public var fib: FIBTable?

    public init(type: String? = nil, section: String? = nil, programName: String? = nil, clang: String? = nil,
                cpu: String = "v3", helpers: HelperRegistry = HelperRegistry(),
                trace: @escaping @Sendable (String) -> Void = HelperEnvironment.standardError) {
        self.type = type
        self.section = section
        self.programName = programName
        self.clang = clang
        self.cpu = cpu
        self.helpers = helpers
        self.trace = trace
    }
}

extension LoadRequest {
    var loadOptions: LoadOptions {
        var options = LoadOptions(trace: trace, extraHelpers: helpers, verifierLimits: verify ? VerifierLimits() : nil, policy: policy,
                                  kernelFunctions: kernelFunctions)
        options.coreTarget = coreTarget
        options.fib = fib
        return options
    }
}

extension CORETarget {
    /// Where the running kernel publishes its BTF.
    public static let kernelBTFPath = "/sys/kernel/btf/vmlinux"

    /// The running kernel's BTF (`/sys/kernel/btf/vmlinux`) when it can be
    /// read, else the object's own types; read only for objects with CO-RE relocations.
    public static let runningKernelOrObjectTypes = CORETarget.lazy { () throws(ELFError) -> TargetBTF? in
        guard let data = FileManager.default.contents(atPath: kernelBTFPath) else { return nil }
        return try TargetBTF(bytes: Array(data), origin: kernelBTFPath)
    }

    /// The BTF in `path`: raw BTF, or an ELF object's `.BTF` section.
    public static func file(_ path: String) throws(LoadError) -> CORETarget {
        guard let data = FileManager.default.contents(atPath: path) else { throw LoadError(path: path, "cannot read BTF file") }
        do { return .btf(try TargetBTF(bytes: Array(data), origin: path)) } catch {
            throw LoadError(path: path, error.description)
        }
    }
}

/// A program read from a file and linked for its program type: maps exist,
/// map references and context accesses are rewritten, helpers are checked.
public struct ProgramFile: Sendable {
    /// The program as decoded, before the loader's rewrites.
    public var original: Program
    /// The program as engines receive it.
    public var linked: LinkedProgram
    /// Memory the file provides (`-- mem` of a `.data` file), if any.
    public var memory: [UInt8]?
    /// The conformance file, for `.data` inputs.
    public var conformance: ConformanceFile?
    /// The object with its maps, for `.o` and `.c` inputs.
    public var object: LoadedObject?

    /// Reads, decodes, validates and links `path`.
    public static func load(path: String, _ request: LoadRequest = LoadRequest()) throws(LoadError) -> ProgramFile {
        if request.policy.requiresVerification && !request.verify {
            throw LoadError(path: path, "the load policy requires verification (it cannot be turned off)")
        }
        guard let format = ProgramFormat(path: path) else {
            throw LoadError(path: path, "unknown program format (expected .s, .asm, .data, .bin, .o or .c)")
        }
        do {
            switch format {
            case .object, .c:
                let bytes = format == .c ? try CCompiler(path: request.clang).compile(path, cpu: request.cpu, byteOrder: request.byteOrder)
                                         : try read(path)
                return try linkObject(bytes, path: path, request)
            case .raw:
                return try linkStandalone(try Program(bytes: try read(path), name: name(path)), request)
            case .assembly:
                return try linkStandalone(try Assembler.assemble(try text(path), name: name(path)), request)
            case .conformance:
                let conformance = try ConformanceFile(contents: try text(path), name: name(path))
                var file = try linkStandalone(try conformance.program(), request)
                file.memory = conformance.memory
                file.conformance = conformance
                return file
            }
        } catch let error as LoadError {
            throw error.path == nil ? LoadError(path: path, error.message) : error
        } catch let error as ConformanceFileError {
            throw LoadError(path: path, error.line.map { "line \($0): \(error.reason)" } ?? "\(error.reason)")
        } catch {
            throw LoadError(path: path, "\(error)" + contextHint(error))
        }
    }

    /// A program refused for how it reads its context probably takes r1 for
    /// plain memory: say which type does that.
    private static func contextHint(_ error: any Error) -> String {
        let loadError: LoadTimeError? = switch error {
        case let error as LoadTimeError: error
        case ObjectLoadError.program(_, let error): error
        default: nil
        }
        guard case .contextAccess = loadError else { return "" }
        return "\nhint: r1 is the program type's context (for xdp, struct xdp_md), not the input bytes; "
            + "a program that reads r1 as plain memory runs with --type mem"
    }

    private static func linkStandalone(_ program: Program, _ request: LoadRequest) throws -> ProgramFile {
        try program.validate()
        let type = try programType(request) ?? MemProgramType(maxInput: request.maxInput ?? MemProgramType.defaultMaxInput)
        let linked = try LinkedProgram(program: program, type: type,
                                       options: request.loadOptions)
        return ProgramFile(original: program, linked: linked)
    }

    private static func linkObject(_ bytes: [UInt8], path: String, _ request: LoadRequest) throws -> ProgramFile {
        let object = try LoadedObject(bytes: bytes, options: request.loadOptions)
        let type = try programType(request)
        var linked = try object.program(named: request.programName, section: request.section, type: type)
        if type == nil, request.maxInput != nil {
            // The type came from the ELF section: load again with the maximum.
            linked = try object.program(named: linked.name, section: linked.section, type: try withMaxInput(linked.type, request.maxInput))
        }
        try linked.program.validate()
        let original = object.object.programs.first { $0.name == linked.name }?.program ?? linked.program
        return ProgramFile(original: original, linked: linked, object: object)
    }

    private static func programType(_ request: LoadRequest) throws(LoadError) -> (any ProgramType)? {
        if let maxInput = request.maxInput, let why = MemProgramType.invalidMaxInput(maxInput) { throw LoadError(why) }
        let type: any ProgramType
        if let given = request.programType {
            type = given
        } else if let name = request.type {
            guard let named = ProgramTypes.named(name) else { throw LoadError("unknown program type '\(name)' (choose \(ProgramTypes.names))") }
            type = named
        } else {
            return nil
        }
        return try withMaxInput(type, request.maxInput)
    }

    /// `type` with the mem input maximum `maxInput` (nil: as it is).
    public static func withMaxInput(_ type: any ProgramType, _ maxInput: Int?) throws(LoadError) -> any ProgramType {
        guard let maxInput else { return type }
        if let why = MemProgramType.invalidMaxInput(maxInput) { throw LoadError(why) }
        guard type is MemProgramType else {
            throw LoadError("a maximum input applies to mem programs, not \(type.name) (its input size is fixed by the type)")
        }
        return MemProgramType(maxInput: maxInput)
    }

    private static func read(_ path: String) throws(LoadError) -> [UInt8] {
        do { return Array(try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
            throw LoadError(path: path, "cannot read file: \(error.localizedDescription)")
        }
    }

    private static func text(_ path: String) throws(LoadError) -> String {
        guard let text = String(bytes: try read(path), encoding: .utf8) else { throw LoadError(path: path, "not UTF-8 text") }
        return text
    }

    private static func name(_ path: String) -> String { (path as NSString).lastPathComponent }
}
