/// Which allocation units of a chunk are in use: one bit per unit, set when
/// used. First fit scans a word (64 units) at a time, so a 2 MiB chunk of
/// 64-byte units (32,768 units, 512 words) is searched in a few hundred steps
/// even when nearly full.
struct UnitBitmap {
    private var words: [UInt64]
    let unitCount: Int
    private(set) var usedCount = 0

    init(unitCount: Int) {
        self.unitCount = unitCount
        self.words = Array(repeating: 0, count: (unitCount + 63) / 64)
        // Bits past the last unit are marked used so that scans never see them free.
        let spare = words.count * 64 - unitCount
        if spare > 0 {
            words[words.count - 1] = ~UInt64(0) << UInt64(64 - spare)
        }
    }

    var isEmpty: Bool {
        usedCount == 0
    }

    var freeCount: Int {
        unitCount - usedCount
    }

    /// The lowest index of `count` consecutive free units.
    func firstFit(_ count: Int) -> Int? {
        precondition(count > 0)
        var start = 0
        while let free = nextIndex(from: start, used: false) {
            guard free + count <= unitCount else {
                return nil
            }
            guard let used = nextIndex(from: free, used: true, before: free + count) else {
                return free
            }
            start = used
        }
        return nil
    }

    /// Length of the longest run of free units.
    var largestFreeRun: Int {
        var longest = 0
        var start = 0
        while let free = nextIndex(from: start, used: false) {
            let end = nextIndex(from: free, used: true) ?? unitCount
            longest = max(longest, end - free)
            start = end
        }
        return longest
    }

    mutating func markUsed(_ units: Range<Int>) {
        for index in units {
            precondition(!isUsed(index), "unit \(index) allocated twice")
            words[index >> 6] |= 1 << UInt64(index & 63)
        }
        usedCount += units.count
    }

    mutating func markFree(_ units: Range<Int>) {
        for index in units {
            precondition(isUsed(index), "unit \(index) freed twice")
            words[index >> 6] &= ~(1 << UInt64(index & 63))
        }
        usedCount -= units.count
    }

    func isUsed(_ index: Int) -> Bool {
        words[index >> 6] & (1 << UInt64(index & 63)) != 0
    }

    /// The first unit in `start..<limit` whose state is `used`, if any.
    /// The limit keeps a first-fit probe from scanning the whole free tail
    /// of a chunk just to learn that nothing is used in the units it needs.
    private func nextIndex(from start: Int, used: Bool, before limit: Int? = nil) -> Int? {
        let limit = min(limit ?? unitCount, unitCount)
        guard start < limit else {
            return nil
        }
        let lastWord = (limit - 1) >> 6
        var wordIndex = start >> 6
        // Look at the bits that have the wanted state: used bits as they are,
        // free bits inverted; ignore the bits below `start` in its word.
        var bits = (used ? words[wordIndex] : ~words[wordIndex]) & (~UInt64(0) << UInt64(start & 63))
        while bits == 0 {
            wordIndex += 1
            guard wordIndex <= lastWord else {
                return nil
            }
            bits = used ? words[wordIndex] : ~words[wordIndex]
        }
        let index = wordIndex << 6 + bits.trailingZeroBitCount
        return index < limit ? index : nil
    }
}
