import BPFEmulator
import BPFISA
import BPFJIT
import BPFRuntime
import Synchronization

/// An arm64 image loaded into its own emulated machine, ready to run many
/// times from many threads (each run takes an engine from the machine).
///
/// A run passes r1 and r2 in x0 and x1 and, when the code uses it, a run
/// context in x2: a page of host memory, added to the run's regions so that
/// the emulated CPU sees it at its host address, and taken from a small
/// pool so that consecutive runs reuse the page the engine already mapped.
/// Helper calls land on the machine's trampolines and run the Swift helpers;
/// slow bounds checks call `checkAccessCall`; a runaway program stops on the
/// image's own guard, and the emulator's count of native instructions is a
/// backstop behind it.
public typealias Arm64EmulatedProgram = EmulatedJITPreparedProgram<Arm64Backend>

extension Arm64Backend {
    /// The slow bounds check under the emulator (`EmulatedJITRun.checkAccessCall`).
    public static let checkAccessCall = EmulatedJITRun.checkAccessCall(name: "bpfkit.arm64.checkAccess", addressing: addressing)
}
