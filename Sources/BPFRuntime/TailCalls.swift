import BPFISA

/// Tail calls (`bpf_tail_call`, helper 12) as every engine sees them.
///
/// A tail call is not a helper call: the engine itself transfers control to
/// the program in a program-array slot, so the engines recognise `call 12`
/// when their configuration carries a `TailCallEnvironment` and never pass it
/// to the helper table. This file holds what the engines and the program
/// array (in BPFMaps, which engines do not import) share:
///
/// - `TailCallEngine`: which engine a preparation is for (its column in the
///   program array's table of native entries);
/// - `TailCallable`: a prepared program that can be the target of a tail call;
/// - `TailCallTarget`: what a program-array slot holds, one program prepared
///   for one or more engines;
/// - `TailCallSlots`: the program array as the engines use it (find a target,
///   read native entries, register callers and live-patched call sites).
public enum TailCalls {
    /// The helper number of `bpf_tail_call` (`BPF_FUNC_tail_call`).
    public static let helperID: Int32 = 12
    /// The kernel's MAX_TAIL_CALL_CNT: tail calls one run may make; the 34th falls through.
    public static let maxCount = 33
}

/// An engine a program can be prepared for, as tail calls need to know it: a
/// caller can only jump to a target prepared for its own engine, and native
/// code reads the target's entry from its engine's column of the program
/// array's table.
public struct TailCallEngine: Hashable, Sendable, CustomStringConvertible {
    /// Columns of every program array's native table.
    public static let columnCount = 16

    /// Shown in error messages: `interpreter`, `jit (x86_64)`.
    public let name: String
    /// Index of the engine's column in the program arrays' native tables.
    public let column: Int

    public init(name: String, column: Int) {
        precondition(column >= 0 && column < Self.columnCount, "tail-call engine column \(column) out of range")
        self.name = name
        self.column = column
    }

    /// The reference interpreter (column 0; it reads targets through `TailCallSlots.target`).
    public static let interpreter = TailCallEngine(name: "interpreter", column: 0)

    public var description: String { name }
}

/// A prepared program that may be the target of a tail call.
public protocol TailCallable: PreparedProgram {
    /// The engine that prepared it.
    var tailCallEngine: TailCallEngine { get }
    /// The word native callers find in the program array's table for this
    /// program: the address native code jumps to (the JITs), or 0 for engines
    /// that fetch the target through `TailCallSlots.target` (the interpreter).
    var tailCallEntry: UInt64 { get }
}

/// What a program-array slot holds: one program, prepared for one or more
/// engines, and the program type it was loaded as (programs in a program
/// array must all be of the caller's type, as in the kernel).
///
/// Keeping a preparation per engine lets one object run on several engines
/// at once (the interpreter and a JIT, say): each caller jumps to the
/// preparation for its own engine. A slot whose target lacks the caller's
/// engine is refused up front, when the entry is set or the caller prepared,
/// never discovered at run time.
public final class TailCallTarget: Sendable, CustomStringConvertible {
    /// The program's name (its function name in an object).
    public let name: String
    /// The program type's name (`xdp`, `mem`).
    public let programType: String
    /// The preparations, by engine.
    public let preparations: [TailCallEngine: any TailCallable]

    public init(name: String, programType: String, preparations: [any TailCallable]) {
        self.name = name
        self.programType = programType
        var byEngine: [TailCallEngine: any TailCallable] = [:]
        for prepared in preparations { byEngine[prepared.tailCallEngine] = prepared }
        self.preparations = byEngine
    }

    /// The preparation for `engine`, if there is one.
    public func prepared(for engine: TailCallEngine) -> (any TailCallable)? { preparations[engine] }

    /// The engines this target can be called from.
    public var engines: Set<TailCallEngine> { Set(preparations.keys) }

    /// The same program with `prepared` added (or replacing the one for its engine).
    public func adding(_ prepared: any TailCallable) -> TailCallTarget {
        var all = Array(preparations.values)
        all.removeAll { $0.tailCallEngine == prepared.tailCallEngine }
        return TailCallTarget(name: name, programType: programType, preparations: all + [prepared])
    }

    public var description: String {
        "'\(name)' (\(programType), prepared for \(engines.map(\.name).sorted().joined(separator: ", ")))"
    }
}

/// A live-patched direct tail-call site of some JITed caller: the program
/// array tells it, under the array's lock, where the slot's program for the
/// site's engine now starts, and the site rewrites its code accordingly.
public protocol TailCallPoke: AnyObject, Sendable {
    var engine: TailCallEngine { get }
    /// The slot changed (or the site was just registered): `entry` is the
    /// native entry of the slot's program for `engine`, nil when the slot is empty.
    func retarget(_ entry: UInt64?)
}

/// A caller's registration with a program array, held by the caller's
/// prepared program; it also keeps the array (and so its native table) alive
/// as long as the caller. Dropping it unregisters the caller.
public final class TailCallAttachment: Sendable {
    public let slots: any TailCallSlots
    private let detach: @Sendable () -> Void

    public init(slots: any TailCallSlots, detach: @escaping @Sendable () -> Void) {
        self.slots = slots
        self.detach = detach
    }

    deinit { detach() }
}

/// A program array as engines use it (BPFMaps' `ProgramArray` is the one implementation).
public protocol TailCallSlots: AnyObject, Sendable {
    /// The map's handle: what the program loads into r2 for `bpf_tail_call`.
    var handle: UInt64 { get }
    var name: String { get }
    var maxEntries: Int { get }

    /// Registers a caller prepared for `engine` as a program of type
    /// `programType`. Fails when the array holds programs of another type or a
    /// program not prepared for `engine`, or when its programs' type is
    /// already fixed to another one. While the attachment lives, every entry
    /// set must be prepared for `engine` too.
    func attachCaller(engine: TailCallEngine, programType: String) throws(TailCallError) -> TailCallAttachment
    /// The program in slot `index` prepared for `engine`, nil when the slot is
    /// empty or `index` is out of range (read atomically with respect to `set`).
    func target(at index: Int, for engine: TailCallEngine) -> (any TailCallable)?
    /// Address of `engine`'s column of native entries: `maxEntries` 64-bit
    /// words, 0 for an empty slot, written atomically. Valid while the array lives.
    func nativeEntries(for engine: TailCallEngine) -> UInt64
    /// Registers a direct call site for slot `index`; it is retargeted at once
    /// and on every later change of the slot, until removed.
    func addPoke(_ poke: any TailCallPoke, at index: Int)
    func removePoke(_ poke: any TailCallPoke)
}

/// Why a program and a program array cannot be used together.
public struct TailCallError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The program arrays one program may tail-call through, handed to engines in
/// `EngineConfiguration.tailCalls`: the loader builds it from the object's
/// maps and the program's type.
public struct TailCallEnvironment: Sendable {
    /// The caller's program type (arrays hold programs of one type).
    public let programType: String
    /// Program arrays by handle.
    private let arrays: [UInt64: any TailCallSlots]

    public init(programType: String, arrays: [any TailCallSlots]) {
        self.programType = programType
        var byHandle: [UInt64: any TailCallSlots] = [:]
        for array in arrays { byHandle[array.handle] = array }
        self.arrays = byHandle
    }

    /// The program array whose handle is `handle`.
    public func array(handle: UInt64) -> (any TailCallSlots)? { arrays[handle] }

    /// Every program array of the environment, by handle.
    public var allArrays: [any TailCallSlots] { arrays.keys.sorted().map { arrays[$0]! } }

    /// The program arrays `program` loads into a register (its 64-bit
    /// immediate loads of a program array's handle), in order of first
    /// appearance: the only values a tail call's r2 may hold.
    public func arrays(referencedBy program: Program) -> [any TailCallSlots] {
        var found: [any TailCallSlots] = []
        for instruction in program.instructions {
            guard case .loadImmediate64(_, .value(let value)) = instruction, let array = arrays[value],
                  !found.contains(where: { $0 === array }) else { continue }
            found.append(array)
        }
        return found
    }

    /// Registers a caller on `engine` with every array `program` references.
    public func attach(_ program: Program, engine: TailCallEngine) throws(EngineError) -> [TailCallAttachment] {
        var attachments: [TailCallAttachment] = []
        for array in arrays(referencedBy: program) {
            do throws(TailCallError) {
                attachments.append(try array.attachCaller(engine: engine, programType: programType))
            } catch {
                throw .incompatibleProgramArray(error.message)
            }
        }
        return attachments
    }

    /// Whether `program` makes any tail call.
    public static func callsTail(_ program: Program) -> Bool {
        program.instructions.contains { $0 == .call(.helper(TailCalls.helperID)) }
    }
}

/// The error a tail call with something other than a program array in r2
/// stops the run with, worded alike by every engine.
extension ExecutionError {
    public static func notAProgramArray(pc: Int, value: UInt64) -> ExecutionError {
        .helperFailed(pc: pc, id: TailCalls.helperID,
                      message: "bpf_tail_call: argument 2 (0x\(String(value, radix: 16))) is not a program array this program loads")
    }
}
