/// The state of one JIT pass that backends emit through: the code buffer,
/// label positions of this pass and the previous one, and pending fixups.
///
/// Branch displacements are always resolved against the positions of the
/// pass that emitted them, so every pass's bytes are self-consistent. What
/// varies between passes is only the *choice* of branch form, which a
/// backend makes with `chooseShort`: exact for labels already placed in this
/// pass, from the previous pass's positions otherwise, and optimistic (short)
/// when nothing is known yet. A short form that turns out not to reach is
/// remembered and forced long in later passes. Sites only ever go from short
/// to long, so positions only grow, an estimate that says "too far" stays
/// true, and the passes converge on the smallest layout in a few passes
/// (relaxation from below, as assemblers do). Past the pass bound
/// (`padding`), unknown distances are taken as long and shrunk code is
/// padded, so that the layout must settle.
///
/// The mutable state lives behind a pointer (`State`), not in stored
/// properties: the hot paths (`bind`, `chooseShort`, `addFixup`) then pay
/// no dynamic exclusivity check per call.
public final class JITAssembler<Kind: BranchKind> {
    @usableFromInline
    struct State {
        @usableFromInline var imageAddress: UInt?
        @usableFromInline var imageCapacity = 0
        @usableFromInline var padding = false
        @usableFromInline var pass = 0
        /// Label positions in this pass and the previous one (-1: not placed).
        @usableFromInline var current: [Int32]
        @usableFromInline var previous: [Int32]
        @usableFromInline var hasPrevious = false
        @usableFromInline var labelCount: Int32
        @usableFromInline var fixups: [Fixup<Kind>] = []
        @usableFromInline var siteCount: Int32 = 0
        /// Sites caught out by a short form: long from now on.
        @usableFromInline var forcedLong: [Bool] = []
        @usableFromInline var flipped = false
        @usableFromInline var lastBound: Int32 = -1
        /// Labels bound in this pass, in order, with their offsets (what
        /// `replay` moves when it re-encodes branch sites).
        @usableFromInline var bound = BoundLabels()
        /// Whether the pass just finished may be replayed (not a padding pass).
        @usableFromInline var replayable = false
        /// The previous pass's fixups, labels bound and bytes, kept by `replay`.
        @usableFromInline var previousFixups: [Fixup<Kind>] = []
        @usableFromInline var previousBound = BoundLabels()
        @usableFromInline var previousBytes: UnsafeMutablePointer<UInt8>?
        @usableFromInline var previousBytesCapacity = 0

        @usableFromInline
        init(labels: Int) {
            current = [Int32](repeating: -1, count: labels)
            previous = current
            labelCount = Int32(labels)
        }
    }

    /// The bytes of this pass.
    public let code: CodeBuffer
    /// Number of instruction slots of the program.
    public let instructionCount: Int
    /// Number of functions.
    public let functionCount: Int
    @usableFromInline let fixedLabelCount: Int32
    @usableFromInline let state: UnsafeMutablePointer<State>
    @usableFromInline let padder: (CodeBuffer, Int) -> Void

    /// - Parameter padder: emits `n` bytes of no-op instructions (padding passes).
    public init(instructionCount: Int, functionCount: Int, capacityHint: Int,
                padder: @escaping (CodeBuffer, Int) -> Void) {
        self.instructionCount = instructionCount
        self.functionCount = functionCount
        fixedLabelCount = Int32(instructionCount + 1 + 2 * functionCount)
        state = .allocate(capacity: 1)
        state.initialize(to: State(labels: Int(fixedLabelCount)))
        state.pointee.current.append(contentsOf: repeatElement(-1, count: 64))
        state.pointee.previous = state.pointee.current
        state.pointee.bound.reserve(Int(fixedLabelCount) + 64)
        code = CodeBuffer(capacity: capacityHint)
        self.padder = padder
    }

    deinit {
        state.pointee.previousBytes?.deallocate()
        state.pointee.bound.deallocate()
        state.pointee.previousBound.deallocate()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// Where the image will run; nil while sizing before allocation. Backends
    /// size address-dependent sequences (calls to host code) pessimistically
    /// while it is nil.
    @inlinable public var imageAddress: UInt? { state.pointee.imageAddress }
    /// The largest image size this pass may produce once `imageAddress` is
    /// known (the allocation); backends use it to decide reachability for the
    /// whole image at once.
    @inlinable public var imageCapacity: Int { state.pointee.imageCapacity }
    /// Whether this pass pads shrunk code back to its previous size.
    public var padding: Bool { state.pointee.padding }
    /// Passes run so far, this one included.
    public var pass: Int { state.pointee.pass }

    /// A non-owning view for backends: the same operations without
    /// reference counting on every call.
    @inlinable public var emitter: JITEmitter<Kind> { JITEmitter(self) }

    // MARK: Labels (forwarded to the emitter, for drivers and tests)

    @inlinable public func instruction(_ pc: Int) -> Label { emitter.instruction(pc) }
    @inlinable public func function(_ index: Int) -> Label { emitter.function(index) }
    @inlinable public func epilogue(_ index: Int) -> Label { emitter.epilogue(index) }
    @inlinable public func makeLabel() -> Label { emitter.makeLabel() }
    @inlinable public func bind(_ label: Label) { emitter.bind(label) }
    public func position(of label: Label) -> Int? { emitter.position(of: label) }
    @inlinable public func estimatedDisplacement(to label: Label, length: Int) -> Int? {
        emitter.estimatedDisplacement(to: label, length: length)
    }
    @inlinable public func chooseShort(to label: Label, shortLength: Int, short: Kind) -> (useShort: Bool, site: Int32) {
        emitter.chooseShort(to: label, shortLength: shortLength, short: short)
    }
    @inlinable public func addFixup(_ label: Label, kind: Kind, field: Int, anchor: Int, site: Int32 = -1) {
        emitter.addFixup(label, kind: kind, field: field, anchor: anchor, site: site)
    }

    @usableFromInline
    func padBeforeBinding(_ id: Int) {
        let s = state
        let last = Int(s.pointee.lastBound)
        guard last >= 0, s.pointee.hasPrevious, id < s.pointee.previous.count,
              s.pointee.previous[id] >= 0, s.pointee.previous[last] >= 0 else { return }
        let previousLength = Int(s.pointee.previous[id] - s.pointee.previous[last])
        let currentLength = code.count - Int(s.pointee.current[last])
        if currentLength < previousLength { padder(code, previousLength - currentLength) }
    }

    // MARK: Driver interface

    @usableFromInline
    func beginPass(address: UInt?, capacity: Int, padding: Bool) {
        let s = state
        s.pointee.pass += 1
        s.pointee.imageAddress = address
        s.pointee.imageCapacity = capacity
        s.pointee.padding = padding
        code.reset()
        s.pointee.fixups.removeAll(keepingCapacity: true)
        s.pointee.bound.count = 0
        s.pointee.siteCount = 0
        s.pointee.flipped = false
        s.pointee.lastBound = -1
        s.pointee.labelCount = fixedLabelCount
        s.pointee.current.withUnsafeMutableBufferPointer { $0.update(repeating: -1) }
    }

    /// Fills every displacement of this pass (the driver calls it; encoder
    /// tests too). A short form that does not reach is forced long for the
    /// next pass; any other failure poisons.
    public func resolveFixups() {
        let s = state
        for fixup in s.pointee.fixups {
            let target = s.pointee.current[Int(fixup.label)]
            guard target >= 0 else {
                code.poison("branch to a label that was never placed (\(fixup.label))")
                continue
            }
            let displacement = Int(target) - Int(fixup.anchor)
            if fixup.kind.canEncode(displacement) {
                fixup.kind.patch(code, field: Int(fixup.field), displacement: displacement)
            } else if fixup.site >= 0, !s.pointee.forcedLong[Int(fixup.site)] {
                s.pointee.forcedLong[Int(fixup.site)] = true
                s.pointee.flipped = true
            } else {
                code.poison("branch displacement \(displacement) does not fit its encoding")
            }
        }
    }

    /// Whether this pass placed every label where the previous one did and
    /// no branch changed its form: the layout has converged.
    @usableFromInline
    func converged() -> Bool {
        let s = state
        let count = Int(s.pointee.labelCount)
        guard s.pointee.hasPrevious, !s.pointee.flipped, count <= s.pointee.previous.count else { return false }
        return s.pointee.current.withUnsafeBufferPointer { current in
            s.pointee.previous.withUnsafeBufferPointer { previous in
                memcmpEqual(current.baseAddress!, previous.baseAddress!, count)
            }
        }
    }

    /// Whether no branch site of this pass was caught out by its short form
    /// (the pass would be repeated exactly, though nobody compared it yet).
    @usableFromInline
    func grewNoBranch() -> Bool { !state.pointee.flipped && code.poisoned == nil }

    /// Keeps this pass's positions as the estimates for the next.
    @usableFromInline
    func finishPass() {
        let s = state
        if s.pointee.previous.count < s.pointee.current.count {
            s.pointee.previous.append(contentsOf: repeatElement(-1, count: s.pointee.current.count - s.pointee.previous.count))
        }
        let count = Int(s.pointee.labelCount)
        s.pointee.current.withUnsafeBufferPointer { current in
            s.pointee.previous.withUnsafeMutableBufferPointer { previous in
                previous.baseAddress!.update(from: current.baseAddress!, count: count)
                for i in count..<previous.count { previous[i] = -1 }
            }
        }
        s.pointee.hasPrevious = true
        s.pointee.replayable = !s.pointee.padding
    }

    /// Positions of the instruction, function-entry and epilogue labels of this pass.
    @usableFromInline
    func layout() -> (instructions: [Int32], functions: [Int32], epilogues: [Int32]) {
        let n = instructionCount + 1, f = functionCount
        let current = state.pointee.current
        return (Array(current[0..<n]), Array(current[n..<n + f]), Array(current[n + f..<n + 2 * f]))
    }
}

/// A label bound during a pass, and where.
@usableFromInline
struct BoundLabel {
    @usableFromInline var label: Int32
    @usableFromInline var offset: Int32
    @inlinable init(label: Int32, offset: Int32) {
        self.label = label
        self.offset = offset
    }
}

/// The labels a pass bound, in order: a growable buffer the assembler owns
/// (`bind` appends to it for every label, so it costs no uniqueness check).
@usableFromInline
struct BoundLabels {
    @usableFromInline var base: UnsafeMutablePointer<BoundLabel>?
    @usableFromInline var count = 0
    @usableFromInline var capacity = 0

    @usableFromInline init() {}

    @usableFromInline mutating func reserve(_ n: Int) {
        guard n > capacity else { return }
        let grown = UnsafeMutablePointer<BoundLabel>.allocate(capacity: n)
        if let base {
            grown.update(from: base, count: count)
            base.deallocate()
        }
        base = grown
        capacity = n
    }

    @inlinable @inline(__always)
    mutating func append(_ label: Int32, offset: Int32) {
        if count == capacity { reserve(max(2 * capacity, 64)) }
        base![count] = BoundLabel(label: label, offset: offset)
        count += 1
    }

    @usableFromInline func deallocate() { base?.deallocate() }
}

/// A branch kind of a variable-length architecture whose sites a pass can
/// re-encode where they stand (`JITAssembler.replay`): x86-64's rel8/rel32.
public protocol RelaxableBranchKind: BranchKind {
    /// The short kind sites ask `chooseShort` about, and its site's length.
    static var short: Self { get }
    static var shortSiteLength: Int { get }
    /// The first byte and the end of the site whose displacement field of
    /// `kind` starts at `field`, given the byte before that field.
    static func site(field: Int, kind: Self, byteBefore: UInt8) -> (start: Int, end: Int)
    /// Emits the site whose previous form began with `first`, `second` in
    /// its short or long form; returns the fixup's kind and its field and
    /// anchor offsets relative to the site's first byte.
    static func emitSite(first: UInt8, second: UInt8, short: Bool, into code: CodeView) -> (kind: Self, field: Int, anchor: Int)
}

extension JITAssembler where Kind: RelaxableBranchKind {
    /// Makes the next pass from the previous one without lowering again
    /// (branch relaxation as assemblers do it): the bytes between branch
    /// sites are copied, every label moves with them, and each site chooses
    /// its form again exactly as `chooseShort` would in a lowered pass (same
    /// order, same positions, same estimates), so the result is the pass
    /// the backend would have emitted. Only for backends whose bytes between
    /// sites depend on nothing a shift changes (no alignment to positions,
    /// no recorded offsets, no position-relative calls to fixed addresses);
    /// the backend decides (`JITBackend.replayPass`). Returns false when
    /// there is no pass to replay.
    public func replay() -> Bool {
        let s = state
        guard s.pointee.hasPrevious, s.pointee.replayable else { return false }
        // Keep the previous pass's bytes, fixups and bindings.
        let oldCount = code.count
        if s.pointee.previousBytesCapacity < oldCount {
            s.pointee.previousBytes?.deallocate()
            s.pointee.previousBytes = .allocate(capacity: max(oldCount, 256))
            s.pointee.previousBytesCapacity = max(oldCount, 256)
        }
        let old = s.pointee.previousBytes!
        old.update(from: code.storage.pointee.base, count: oldCount)
        swap(&s.pointee.fixups, &s.pointee.previousFixups)
        swap(&s.pointee.bound, &s.pointee.previousBound)
        s.pointee.fixups.removeAll(keepingCapacity: true)
        s.pointee.bound.count = 0
        // The pass itself, as `beginPass` starts one (the label count stays:
        // the same labels are made in every pass).
        s.pointee.pass += 1
        code.reset()
        s.pointee.siteCount = 0
        s.pointee.flipped = false
        s.pointee.lastBound = -1
        s.pointee.current.withUnsafeMutableBufferPointer { $0.update(repeating: -1) }
        let view = code.view
        let emitter = self.emitter
        let bindings = s.pointee.previousBound.base, bindingCount = s.pointee.previousBound.count
        var cursor = 0, next = 0
        // Binds the labels placed up to `offset` where the bytes before them
        // will land, then copies the old bytes up to there.
        func advance(to offset: Int) {
            let delta = view.count - cursor
            while next < bindingCount, Int(bindings![next].offset) <= offset {
                let label = bindings![next].label, position = Int32(Int(bindings![next].offset) + delta)
                s.pointee.current[Int(label)] = position
                s.pointee.lastBound = label
                s.pointee.bound.append(label, offset: position)
                next += 1
            }
            if offset > cursor {
                view.claim(offset - cursor).update(from: old + cursor, count: offset - cursor)
                cursor = offset
            }
        }
        for k in 0..<s.pointee.previousFixups.count {
            let fixup = s.pointee.previousFixups[k]
            if fixup.site < 0 {
                // A fixed form: its field moves with the bytes around it.
                advance(to: Int(fixup.field))
                let delta = Int32(view.count - cursor)
                s.pointee.fixups.append(Fixup(field: fixup.field + delta, anchor: fixup.anchor + delta, label: fixup.label,
                                              kind: fixup.kind, site: -1))
                continue
            }
            let site = Kind.site(field: Int(fixup.field), kind: fixup.kind, byteBefore: old[Int(fixup.field) - 1])
            advance(to: site.start)
            let start = view.count
            let choice = emitter.chooseShort(to: Label(id: fixup.label), shortLength: Kind.shortSiteLength, short: Kind.short)
            let form = Kind.emitSite(first: old[site.start], second: old[site.start + 1], short: choice.useShort, into: view)
            s.pointee.fixups.append(Fixup(field: Int32(start + form.field), anchor: Int32(start + form.anchor),
                                          label: fixup.label, kind: form.kind, site: choice.site))
            cursor = site.end
        }
        advance(to: oldCount)
        return true
    }
}

/// Whether `count` positions are equal.
@usableFromInline
func memcmpEqual(_ a: UnsafePointer<Int32>, _ b: UnsafePointer<Int32>, _ count: Int) -> Bool {
    for i in 0..<count where a[i] != b[i] { return false }
    return true
}

/// What a backend emits through: a non-owning view of a `JITAssembler`
/// (its state pointer and code view), so that the per-instruction work of a
/// pass costs no reference counting. Valid while the assembler lives.
public struct JITEmitter<Kind: BranchKind> {
    @usableFromInline let state: UnsafeMutablePointer<JITAssembler<Kind>.State>
    /// The bytes of this pass.
    public let code: CodeView
    @usableFromInline let instructionCount: Int
    @usableFromInline let functionCount: Int
    @usableFromInline let owner: Unmanaged<JITAssembler<Kind>>

    @inlinable
    public init(_ assembler: JITAssembler<Kind>) {
        state = assembler.state
        code = assembler.code.view
        instructionCount = assembler.instructionCount
        functionCount = assembler.functionCount
        owner = Unmanaged.passUnretained(assembler)
    }

    /// Where the image will run; nil while sizing before allocation.
    @inlinable public var imageAddress: UInt? { state.pointee.imageAddress }
    /// The room allocated for the image, once known.
    @inlinable public var imageCapacity: Int { state.pointee.imageCapacity }


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
        let s = state
        let id = s.pointee.labelCount
        s.pointee.labelCount += 1
        if Int(id) >= s.pointee.current.count {
            s.pointee.current.append(contentsOf: repeatElement(-1, count: s.pointee.current.count))
        }
        return Label(id: id)
    }

    /// Places `label` at the current position. In padding passes the code
    /// since the previous label is first padded to its length in the previous
    /// pass, so shrinking code can no longer move anything.
    @inlinable @inline(__always)
    public func bind(_ label: Label) {
        let s = state
        let id = Int(label.id)
        if s.pointee.padding { owner._withUnsafeGuaranteedRef { $0.padBeforeBinding(id) } }
        s.pointee.current[id] = Int32(code.count)
        s.pointee.lastBound = label.id
        s.pointee.bound.append(label.id, offset: Int32(code.count))
    }

    /// The position of `label` in this pass, if already placed.
    public func position(of label: Label) -> Int? {
        let p = state.pointee.current[Int(label.id)]
        return p >= 0 ? Int(p) : nil
    }

    /// The displacement a branch starting here, `length` bytes long and
    /// measured from its end, would need to reach `label`: exact when the
    /// label is already placed in this pass, estimated from the previous pass
    /// otherwise, nil when nothing is known yet (then use the long form).
    @inlinable @inline(__always)
    public func estimatedDisplacement(to label: Label, length: Int) -> Int? {
        let s = state
        let id = Int(label.id)
        let end = code.count + length
        let placed = s.pointee.current[id]
        if placed >= 0 { return Int(placed) - end }
        let last = Int(s.pointee.lastBound)
        guard s.pointee.hasPrevious, id < s.pointee.previous.count, last >= 0 else { return nil }
        let target = s.pointee.previous[id], anchor = s.pointee.previous[last]
        guard target >= 0, anchor >= 0 else { return nil }
        let endThen = Int(anchor) + (end - Int(s.pointee.current[last]))
        return Int(target) - endThen
    }

    /// Decides whether a branch site with a short and a long form may use the
    /// short one: the estimate must fit, and the site must not have been
    /// caught out by a short form before. Returns the site number to pass to
    /// `addFixup` (for both forms).
    @inlinable @inline(__always)
    public func chooseShort(to label: Label, shortLength: Int, short: Kind) -> (useShort: Bool, site: Int32) {
        let s = state
        let site = s.pointee.siteCount
        s.pointee.siteCount += 1
        if Int(site) >= s.pointee.forcedLong.count { s.pointee.forcedLong.append(false) }
        if s.pointee.forcedLong[Int(site)] { return (false, site) }
        // Unknown distance: optimistic while the pass bound allows, so that
        // the layout grows from the smallest one (see the type's comment).
        guard let d = estimatedDisplacement(to: label, length: shortLength) else { return (!s.pointee.padding, site) }
        return (short.canEncode(d), site)
    }

    /// Records that the field at `field` must hold the displacement from
    /// `anchor` to `label`, in the encoding of `kind`.
    @inlinable @inline(__always)
    public func addFixup(_ label: Label, kind: Kind, field: Int, anchor: Int, site: Int32 = -1) {
        state.pointee.fixups.append(Fixup(field: Int32(field), anchor: Int32(anchor), label: label.id, kind: kind, site: site))
    }

}
