/// The state of one JIT pass that backends emit through: the code buffer,
/// label positions of this pass and the previous one, and pending fixups.
///
/// Branch displacements are always resolved against the positions of the
/// pass that emitted them, so every pass's bytes are self-consistent. What
/// varies between passes is only the *choice* of branch form, which a
/// backend makes from `estimatedDisplacement` (exact for labels already
/// placed in this pass, taken from the previous pass otherwise). A short form
/// that turns out not to reach is remembered and forced long in later passes,
/// so each site changes its mind at most once and the passes converge.
public final class JITAssembler<Kind: BranchKind> {
    /// The bytes of this pass.
    public let code: CodeBuffer
    /// Where the image will run; nil while sizing before allocation. Backends
    /// size address-dependent sequences (calls to host code) pessimistically
    /// while it is nil.
    public internal(set) var imageAddress: UInt?
    /// The largest image size this pass may produce once `imageAddress` is
    /// known (the allocation); backends use it to decide reachability for the
    /// whole image at once.
    public internal(set) var imageCapacity: Int = 0
    /// Number of instruction slots of the program.
    public let instructionCount: Int
    /// Number of functions.
    public let functionCount: Int
    /// Whether this pass pads shrunk code back to its previous size.
    public internal(set) var padding = false
    /// Passes run so far, this one included.
    public internal(set) var pass = 0

    @usableFromInline var current: [Int32]
    @usableFromInline var previous: [Int32]
    @usableFromInline var hasPrevious = false
    @usableFromInline var labelCount: Int32
    @usableFromInline let fixedLabelCount: Int32
    @usableFromInline var fixups: [Fixup<Kind>] = []
    @usableFromInline var siteCount: Int32 = 0
    @usableFromInline var forcedLong: [Bool] = []
    @usableFromInline var flipped = false
    @usableFromInline var lastBound: Int32 = -1
    @usableFromInline let padder: (CodeBuffer, Int) -> Void

    /// - Parameter padder: emits `n` bytes of no-op instructions (padding passes).
    public init(instructionCount: Int, functionCount: Int, capacityHint: Int,
                padder: @escaping (CodeBuffer, Int) -> Void) {
        self.instructionCount = instructionCount
        self.functionCount = functionCount
        fixedLabelCount = Int32(instructionCount + 1 + 2 * functionCount)
        labelCount = fixedLabelCount
        current = [Int32](repeating: -1, count: Int(fixedLabelCount) + 64)
        previous = current
        code = CodeBuffer(capacity: capacityHint)
        self.padder = padder
    }

    // MARK: Labels

    /// The label of instruction slot `pc` (`instructionCount` is the end of the body).
    @inlinable @inline(__always)
    public func instruction(_ pc: Int) -> Label { Label(id: Int32(pc)) }

    /// The label of function `index`'s entry (its prologue).
    @inlinable @inline(__always)
    public func function(_ index: Int) -> Label { Label(id: Int32(instructionCount + 1 + index)) }

    /// The label of function `index`'s epilogue.
    @inlinable @inline(__always)
    public func epilogue(_ index: Int) -> Label { Label(id: Int32(instructionCount + 1 + functionCount + index)) }

    /// A new label; passes make their labels in the same order, so the n-th
    /// label of a pass is the same place in every pass.
    @inlinable @inline(__always)
    public func makeLabel() -> Label {
        let id = labelCount
        labelCount += 1
        if Int(labelCount) > current.count {
            current.append(contentsOf: repeatElement(-1, count: current.count))
        }
        return Label(id: id)
    }

    /// Places `label` at the current position. In padding passes the code
    /// since the previous label is first padded to its length in the previous
    /// pass, so shrinking code can no longer move anything.
    @inlinable @inline(__always)
    public func bind(_ label: Label) {
        let id = Int(label.id)
        if padding, lastBound >= 0, hasPrevious, id < previous.count, previous[id] >= 0,
           previous[Int(lastBound)] >= 0 {
            let previousLength = Int(previous[id] - previous[Int(lastBound)])
            let currentLength = code.count - Int(current[Int(lastBound)])
            if currentLength < previousLength { padder(code, previousLength - currentLength) }
        }
        current[id] = Int32(code.count)
        lastBound = label.id
    }

    /// The position of `label` in this pass, if already placed.
    public func position(of label: Label) -> Int? {
        let p = current[Int(label.id)]
        return p >= 0 ? Int(p) : nil
    }

    /// The displacement a branch starting here, `length` bytes long and
    /// measured from its end, would need to reach `label`: exact when the
    /// label is already placed in this pass, estimated from the previous pass
    /// otherwise, nil when nothing is known yet (then use the long form).
    @inlinable @inline(__always)
    public func estimatedDisplacement(to label: Label, length: Int) -> Int? {
        let id = Int(label.id)
        let end = code.count + length
        let placed = current[id]
        if placed >= 0 { return Int(placed) - end }
        guard hasPrevious, id < previous.count, lastBound >= 0 else { return nil }
        let target = previous[id], anchor = previous[Int(lastBound)]
        guard target >= 0, anchor >= 0 else { return nil }
        let endThen = Int(anchor) + (end - Int(current[Int(lastBound)]))
        return Int(target) - endThen
    }

    /// Decides whether a branch site with a short and a long form may use the
    /// short one: the estimate must fit, and the site must not have been
    /// caught out by a short form before. Returns the site number to pass to
    /// `addFixup` (for both forms).
    @inlinable @inline(__always)
    public func chooseShort(to label: Label, shortLength: Int, short: Kind) -> (useShort: Bool, site: Int32) {
        let site = siteCount
        siteCount += 1
        if Int(site) >= forcedLong.count { forcedLong.append(false) }
        if forcedLong[Int(site)] { return (false, site) }
        guard let d = estimatedDisplacement(to: label, length: shortLength) else { return (false, site) }
        return (short.canEncode(d), site)
    }

    /// Records that the field at `field` must hold the displacement from
    /// `anchor` to `label`, in the encoding of `kind`.
    @inlinable @inline(__always)
    public func addFixup(_ label: Label, kind: Kind, field: Int, anchor: Int, site: Int32 = -1) {
        fixups.append(Fixup(field: Int32(field), anchor: Int32(anchor), label: label.id, kind: kind, site: site))
    }

    // MARK: Driver interface

    @usableFromInline
    func beginPass(address: UInt?, capacity: Int, padding: Bool) {
        pass += 1
        imageAddress = address
        imageCapacity = capacity
        self.padding = padding
        code.reset()
        fixups.removeAll(keepingCapacity: true)
        siteCount = 0
        flipped = false
        lastBound = -1
        labelCount = fixedLabelCount
        for i in current.indices { current[i] = -1 }
    }

    /// Fills every displacement of this pass (the driver calls it; encoder
    /// tests too). A short form that does not
    /// reach is forced long for the next pass; any other failure poisons.
    public func resolveFixups() {
        for fixup in fixups {
            let target = current[Int(fixup.label)]
            guard target >= 0 else {
                code.poison("branch to a label that was never placed (\(fixup.label))")
                continue
            }
            let displacement = Int(target) - Int(fixup.anchor)
            if fixup.kind.canEncode(displacement) {
                fixup.kind.patch(code, field: Int(fixup.field), displacement: displacement)
            } else if fixup.site >= 0, !forcedLong[Int(fixup.site)] {
                forcedLong[Int(fixup.site)] = true
                flipped = true
            } else {
                code.poison("branch displacement \(displacement) does not fit its encoding")
            }
        }
    }

    /// Whether this pass placed every label where the previous one did and
    /// no branch changed its form: the layout has converged.
    @usableFromInline
    func converged() -> Bool {
        guard hasPrevious, !flipped, Int(labelCount) <= previous.count else { return false }
        for i in 0..<Int(labelCount) where current[i] != previous[i] { return false }
        return true
    }

    /// Keeps this pass's positions as the estimates for the next.
    @usableFromInline
    func finishPass() {
        if previous.count < current.count {
            previous.append(contentsOf: repeatElement(-1, count: current.count - previous.count))
        }
        for i in 0..<Int(labelCount) { previous[i] = current[i] }
        for i in Int(labelCount)..<previous.count { previous[i] = -1 }
        hasPrevious = true
    }

    /// Positions of the instruction, function-entry and epilogue labels of this pass.
    @usableFromInline
    func layout() -> (instructions: [Int32], functions: [Int32], epilogues: [Int32]) {
        let n = instructionCount + 1, f = functionCount
        return (Array(current[0..<n]), Array(current[n..<n + f]), Array(current[n + f..<n + 2 * f]))
    }
}
