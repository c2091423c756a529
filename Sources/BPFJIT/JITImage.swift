/// A compiled image: its bytes, where it runs, and the map from each BPF
/// instruction to its native code (for disassembly, patch sites and fault
/// reports).
public struct JITImage: Sendable {
    public let architecture: JITArchitecture
    /// The image as written at `address`.
    public let bytes: [UInt8]
    /// Where the image runs (or was assembled for, when compiled for a dump).
    public let address: UInt
    /// Native offset of each instruction slot's code; the last entry is the end
    /// of the body (start of shared routines and stubs). The second slot of a
    /// 64-bit load has an empty range.
    public let instructionOffsets: [Int32]
    /// Native offset of each function's prologue.
    public let functionOffsets: [Int32]
    /// Native offset of each function's epilogue.
    public let epilogueOffsets: [Int32]
    /// Passes the driver ran, the writing pass included.
    public let passes: Int
    public let statistics: JITStatistics
    /// The direct tail-call sites, whose bypass and target the program
    /// arrays patch while the image runs.
    public let tailCallSites: [JITTailCallSite]

    public init(architecture: JITArchitecture, bytes: [UInt8], address: UInt, instructionOffsets: [Int32],
                functionOffsets: [Int32], epilogueOffsets: [Int32], passes: Int, statistics: JITStatistics,
                tailCallSites: [JITTailCallSite] = []) {
        self.tailCallSites = tailCallSites
        self.architecture = architecture
        self.bytes = bytes
        self.address = address
        self.instructionOffsets = instructionOffsets
        self.functionOffsets = functionOffsets
        self.epilogueOffsets = epilogueOffsets
        self.passes = passes
        self.statistics = statistics
    }

    /// Image size in bytes.
    public var size: Int { bytes.count }

    /// Number of instruction slots.
    public var instructionCount: Int { instructionOffsets.count - 1 }

    /// The native bytes lowered from slot `pc`: up to the next slot, the
    /// function's epilogue or the next function's prologue, whichever comes first.
    public func nativeRange(of pc: Int) -> Range<Int> {
        let start = Int(instructionOffsets[pc])
        var end = Int(instructionOffsets[pc + 1])
        for boundary in functionOffsets + epilogueOffsets where Int(boundary) >= start && Int(boundary) < end {
            end = Int(boundary)
        }
        return start..<max(start, end)
    }

    /// The slot whose native code contains byte `offset` of the body, if any
    /// (fault reports: a native address back to a BPF pc).
    public func instruction(containing offset: Int) -> Int? {
        guard offset >= 0, offset < Int(instructionOffsets[instructionCount]) else { return nil }
        var low = 0, high = instructionCount
        while low < high {
            let mid = (low + high + 1) / 2
            if Int(instructionOffsets[mid]) <= offset { low = mid } else { high = mid - 1 }
        }
        while low > 0, nativeRange(of: low).isEmpty { low -= 1 }
        return nativeRange(of: low).contains(offset) ? low : nil
    }
}
