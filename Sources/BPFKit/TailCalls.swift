import BPFHelpers
import BPFLoader
import BPFMaps
import BPFRuntime

/// Why a program-array entry could not be made or set.
public struct TailCallSetupError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Program-array entries for the engines: a program of an object, prepared
/// for an engine, as a `TailCallTarget`.
public enum TailCallTargets {
    /// Prepares `linked` on `engine` and returns `current` with that
    /// preparation added (or a new target when `current` is nil), so that a
    /// slot can serve callers on several engines.
    public static func make(_ linked: LinkedProgram, engine: any ExecutionEngine, adding current: TailCallTarget? = nil,
                            instructionLimit: UInt64 = ExecutionLimits.defaultInstructionLimit,
                            hardened: Bool = false) throws -> TailCallTarget {
        // Verified as a target: a tail call does not enter it with r2 the input's length.
        let prepared = try engine.prepare(linked.program, configuration: linked.engineConfiguration(instructionLimit: instructionLimit,
                                                                                                    hardened: hardened,
                                                                                                    asTailCallTarget: true))
        guard let callable = prepared as? any TailCallable else {
            throw TailCallSetupError("engine \(engine.name) cannot run programs as tail-call targets")
        }
        if let current, current.name == linked.name, current.programType == linked.type.name {
            return current.adding(callable)
        }
        return TailCallTarget(name: linked.name, programType: linked.type.name, preparations: [callable])
    }
}

extension LoadedObject {
    /// Fills the program arrays the object initialises statically
    /// (`__array(values, ...)`), as libbpf does at load time, with programs
    /// prepared for `engine`; preparations for other engines already in a
    /// slot are kept, so one object can run on several engines.
    ///
    /// Entries that lack `engine` are taken out first: preparing a target
    /// that tail-calls registers it as a caller on `engine`, which the array
    /// allows only when every entry is prepared for `engine`. Run this before
    /// any program of the object runs on `engine`.
    ///
    /// `hardened`: the targets are prepared with constant blinding, as the
    /// run that calls them is (a target's own load policy may harden it
    /// anyway, `VerifierPolicy.hardensByDefault`). A hardened run replaces
    /// the slot's preparation for `engine` with a hardened one, so no plain
    /// image of an object program stays reachable from hardened code.
    public func populateProgramArrays(for engine: any ExecutionEngine,
                                      instructionLimit: UInt64 = ExecutionLimits.defaultInstructionLimit,
                                      hardened: Bool = false) throws {
        guard let engineID = engine.tailCallEngine else {
            if programSlots.isEmpty { return }
            throw TailCallSetupError("engine \(engine.name) cannot run tail calls")
        }
        var previous: [ObjectIdentifier: [Int: TailCallTarget]] = [:]
        for slot in programSlots {
            guard let current = slot.map.entry(at: slot.index).target else { continue }
            previous[ObjectIdentifier(slot.map), default: [:]][slot.index] = current
            if current.prepared(for: engineID) == nil { try slot.map.clear(at: slot.index) }
        }
        var prepared: [String: any TailCallable] = [:]
        for slot in programSlots {
            if !hardened, let current = slot.map.entry(at: slot.index).target, current.name == slot.program,
               current.prepared(for: engineID) != nil { continue }
            let linked = try program(named: slot.program)
            let callable: any TailCallable
            if let done = prepared[linked.name] {
                callable = done
            } else {
                let target = try TailCallTargets.make(linked, engine: engine, instructionLimit: instructionLimit,
                                                      hardened: hardened)
                callable = target.preparations.values.first!
                prepared[linked.name] = callable
            }
            let old = previous[ObjectIdentifier(slot.map)]?[slot.index]
            let target = old.map { $0.name == linked.name ? $0.adding(callable) : nil } ?? nil
            try slot.map.set(target ?? TailCallTarget(name: linked.name, programType: linked.type.name, preparations: [callable]),
                             at: slot.index)
        }
    }

    /// The program array named `name`.
    public func programArray(named name: String) throws -> ProgramArray {
        guard let map = map(named: name) else { throw TailCallSetupError("no map named '\(name)'") }
        guard let array = map as? ProgramArray else {
            throw TailCallSetupError("map '\(name)' is a \(map.definition.type), not a prog_array")
        }
        return array
    }
}
