/// The run-time backstop behind the rule that `bpf_tail_call`'s first
/// argument is the program's own context pointer, unmodified.
///
/// A tail-call target was verified assuming r1 is the context it was given
/// at entry (its packet bounds, its fields); a caller that passes anything
/// else would have the target's proven accesses run against memory the
/// caller chose. The verifier refuses such calls; every engine also
/// compares r1 with the run's context pointer (the r1 the host entered the
/// run with) at each tail call, and stops the run with this error naming
/// the instruction when they differ, whether or not a target would be
/// entered. It costs one compare per tail call.
extension ExecutionError {
    /// What every engine reports for a tail call at `pc` whose r1 is not the run's context.
    public static func tailCallContextMismatch(pc: Int) -> ExecutionError {
        .helperFailed(pc: pc, id: TailCalls.helperID,
                      message: "bpf_tail_call's first argument is not the program's context pointer")
    }
}
