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
}
