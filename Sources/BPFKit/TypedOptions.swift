import BPFHelpers
import BPFLoader
import BPFMaps

// Program types as values: `LoadRequest(programType: .xdp)`,
// `LoadedProgram(program, type: .mem)`. The command line names them by
// string (`--type xdp`); `ProgramTypes.named` maps one to the other.

extension ProgramType where Self == XDPProgramType {
    /// XDP: the input is the packet and r1 the kernel's `struct xdp_md`.
    public static var xdp: XDPProgramType { XDPProgramType() }
}

extension ProgramType where Self == MemProgramType {
    /// `mem`: r1 points to the input memory and r2 holds its length.
    public static var mem: MemProgramType { MemProgramType() }
}

extension LoadRequest {
    /// A request for a program of type `programType` (which wins over a
    /// type the ELF section implies).
    public init(programType: any ProgramType, section: String? = nil, programName: String? = nil,
                helpers: HelperRegistry = HelperRegistry(), policy: VerifierPolicy = .privileged) {
        self.init(section: section, programName: programName, helpers: helpers)
        self.programType = programType
        self.policy = policy
    }
}

extension ProgramFile {
    /// The object's map named `name` (`.o` and `.c` files), to read and
    /// update from the host before and after runs.
    public func map(named name: String) -> (any BPFMap)? { object?.map(named: name) }
}

extension LoadedProgram {
    /// The object's map named `name`, when the program came from an object.
    public func map(named name: String) -> (any BPFMap)? { object?.map(named: name) }

    /// The C source line of instruction `pc`, when the object has BTF line information.
    public func sourceLine(at pc: Int) -> SourceLine? { SourceLines.line(of: linked.name, at: pc, in: object) }
}

extension ProgramFile {
    /// The C source line of instruction `pc`, when the object has BTF line information.
    public func sourceLine(at pc: Int) -> SourceLine? { SourceLines.line(of: linked.name, at: pc, in: object) }
}

/// C source lines for messages about instructions.
public enum SourceLines {
    static func line(of program: String, at pc: Int, in object: LoadedObject?) -> SourceLine? {
        object?.object.programs.first { $0.name == program }?.sourceLine(at: pc)
    }

    /// `message` with the source line of the instruction it starts with
    /// (`instruction N: ...`, as every BPFKit error does) on a line of its own after it.
    public static func annotate(_ message: String, indent: String = "  ", line: (Int) -> SourceLine?) -> String {
        guard message.hasPrefix("instruction "),
              let pc = Int(message.dropFirst("instruction ".count).prefix { $0.isNumber }),
              let source = line(pc) else { return message }
        return message + "\n" + indent + source.description
    }
}
