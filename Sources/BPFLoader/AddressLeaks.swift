import BPFHelpers
import BPFISA
import BPFMaps
import BPFRuntime
import BPFVerifier

extension LinkedProgram {
    /// Why the verifier refuses one of `programs` where pointers may not
    /// leak (`VerifierPolicy.allowsPointerLeaks` false: spilled pointers
    /// read in part, pointers stored, compared with other kinds or
    /// returned), or nil when it accepts them all. Such a program's results
    /// (r0, the packet, the maps, which branches it takes) may follow
    /// addresses, which differ from engine to engine; differential tests
    /// run it but do not compare it. `options` are the ones the programs are
    /// otherwise loaded with: only the policy changes.
    public static func addressLeak(in programs: [Program], type: any ProgramType, maps: [any BPFMap],
                                   options: LoadOptions) -> String? {
        var noLeaks = options
        noLeaks.policy = VerifierPolicy(allowsPointerLeaks: false)
        do {
            for program in programs {
                _ = try LinkedProgram(program: program, type: type, maps: maps, options: noLeaks)
            }
            return nil
        } catch {
            return "\(error)"
        }
    }
}
