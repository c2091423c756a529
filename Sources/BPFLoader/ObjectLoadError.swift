import BPFELF
import BPFHelpers
import BPFISA
import BPFMaps

/// Why an object or program could not be loaded or set up for a run.
public enum ObjectLoadError: Error, Sendable, CustomStringConvertible {
    /// The object file is malformed.
    case object(ELFError)
    /// A map definition makes no sense, or its initial contents do not fit.
    case map(name: String, MapError)
    /// A program failed a load-time pass (context access, helper, map reference, structure).
    case program(name: String, LoadTimeError)
    /// The chosen program uses something BPFKit lacks (a map type, a kfunc, a
    /// callback) or its code does not link; the object's other programs load.
    case unloadable(name: String, section: String, ELFError)
    /// No program matches the selection, or several do.
    case programSelection(String)
    /// The program type is unknown or cannot be inferred.
    case programType(String)
    /// The object's byte order is not the memory order of the engine asked
    /// to run it: its programs would compute with swapped values.
    case byteOrder(object: ByteOrder, engine: ByteOrder, engineName: String)
    /// The run input does not suit the program type.
    case runInput(ProgramRunError)
    /// The verifier (or the load policy) refuses the program; the reason names the instruction.
    case refused(name: String, String)

    public var description: String {
        switch self {
        case .object(let error): error.description
        case .map(let name, let error):
            if case .invalidDefinition = error { error.description } else { "map '\(name)': \(error)" }
        case .program(let name, let error): "program '\(name)': \(error)"
        case .unloadable(let name, let section, let error): "program '\(name)' (section '\(section)') cannot be loaded: \(error)"
        case .programSelection(let why): why
        case .programType(let why): why
        case .byteOrder(let object, let engine, let name):
            "the program was compiled for \(object.endianName) BPF (-target bpf\(object == .big ? "eb" : "el")) but the \(name) runs "
                + "\(engine.endianName); " + (object == .big
                    ? "run it on the big-endian interpreter (--byte-order big) or --engine jit --arch mips32be, or compile with -target bpfel"
                    : "run it on a little-endian engine, or compile with -target bpfeb")
        case .runInput(let error): error.description
        case .refused(let name, let why): "program '\(name)' refused: \(why)"
        }
    }
}

extension ByteOrder {
    /// "big-endian" or "little-endian".
    public var endianName: String { self == .big ? "big-endian" : "little-endian" }
}
