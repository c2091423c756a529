@testable import BPFInterpreter
import BPFRuntime
import Testing

/// The interpreter's run block. A block of more than one frame comes from the
/// heap, where the blocks before and after it may be memory of the run (an
/// input, a map's storage): unused room on both sides of its stack keeps an
/// access with a constant offset that leaves the stack, or another region,
/// from landing in the other, as on the JITs, whose stack lies on the host's.
struct RunLayoutTests {
    @Test func aHeapBlockKeepsRoomAroundItsStack() {
        let layout = RunLayout(maxFrames: ExecutionLimits.maxCallFrames)
        let words = (layout.wordCount * 8 + 15) & ~15
        // More than any 16-bit offset plus the widest access, on each side.
        let reach = Int(Int16.max) + 1 + 8
        #expect(RunLayout.guardBytes >= reach)
        #expect(layout.stackOffset - words >= RunLayout.guardBytes)
        #expect(layout.byteCount - (layout.stackOffset + layout.stackBytes) >= RunLayout.guardBytes)
        #expect(layout.stackBytes == ExecutionLimits.maxCallFrames * ExecutionLimits.stackSizePerFrame)
        #expect(layout.stackOffset % 16 == 0)
    }

    /// One frame stays small enough for the thread's stack (no heap block,
    /// so no heap neighbour and no allocation per run).
    @Test func aOneFrameBlockStaysSmall() {
        let layout = RunLayout(maxFrames: 1)
        #expect(layout.byteCount <= 1024)
        #expect(layout.stackOffset == (layout.wordCount * 8 + 15) & ~15)
    }
}
