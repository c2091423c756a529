import BPFISA

/// Turns executable sections into programs: one per global function, with
/// `.text` appended when it calls subprograms, and every relocation applied
/// to the raw slots before decoding (libbpf's `bpf_object__relocate` in
/// miniature).
struct ProgramLinker {
    let elf: ELFFile
    let maps: CollectedMaps
    /// CO-RE relocations by section with what they resolve against (nil: the object has none).
    var core: COREContext? = nil
    /// BTF type ids of the object's functions by name (kfunc calls name theirs).
    var btfFunctions: [String: Int32] = [:]

    /// BPF relocation types (`R_BPF_*` in LLVM's ELFRelocs/BPF.def).
    enum RelocationType: UInt32 {
        case none = 0, r64_64 = 1, abs64 = 2, abs32 = 3, nodyld32 = 4, r64_32 = 10
    }

    static let opcodeLoadImmediate64: UInt8 = 0x18
    static let opcodeCall: UInt8 = 0x85

    /// The instruction slots of one executable section and its relocations by slot.
    struct Code {
        let section: ELFFile.Section
        let slots: [RawInstruction]
        let relocations: [Int: ELFFile.Relocation]
        /// Slots a CO-RE relocation could not be resolved for (now `call 0xbad2310`).
        var poisoned: [Int: PoisonedInstruction] = [:]
        /// Slots whose CO-RE relocation is malformed: the programs containing them cannot load.
        var coreErrors: [Int: ELFError] = [:]
    }

    /// The object's programs, and the functions that cannot be programs here
    /// (a reference to a map type BPFKit lacks, a kfunc, a callback...): their
    /// error is reported when one of them is chosen, so the others still load.
    func link() throws(ELFError) -> (programs: [ObjectProgram], unloadable: [UnloadableProgram]) {
        let text = try elf.section(named: ".text").flatMap { s throws(ELFError) in s.size > 0 ? try code(s) : nil }
        let lineInfo = LineInfo(elf: elf)
        var programs: [ObjectProgram] = []
        var textPrograms: [ObjectProgram] = []
        var unloadable: [UnloadableProgram] = [], unloadableText: [UnloadableProgram] = []
        for section in elf.sections where section.isExecutable && section.type == ELFFile.Section.progbits && section.size > 0 {
            let code = section.name == ".text" ? text! : try code(section)
            let functions = elf.symbols.filter {
                $0.sectionIndex == section.index && $0.type == ELFFile.Symbol.typeFunction && $0.binding != ELFFile.Symbol.bindLocal
            }.sorted { $0.value < $1.value }
            if functions.isEmpty {
                // A section without function symbols is one program named after it (hand-written objects).
                if section.name != ".text" {
                    do {
                        programs.append(try build(name: section.name, code: code, range: 0..<code.slots.count, text: text, lineInfo: lineInfo))
                    } catch {
                        unloadable.append(UnloadableProgram(name: section.name, section: section.name, reason: error))
                    }
                }
                continue
            }
            for function in functions {
                guard function.value % 8 == 0, function.size % 8 == 0, function.size > 0,
                      function.value / 8 + function.size / 8 <= UInt64(code.slots.count) else {
                    throw .badSymbol(index: function.index, reason: "function '\(function.name)' (offset \(function.value), size \(function.size)) does not fit section '\(section.name)' in whole instructions")
                }
                let start = Int(function.value / 8)
                do {
                    let program = try build(name: function.name, code: code, range: start..<start + Int(function.size / 8), text: text, lineInfo: lineInfo)
                    if section.name == ".text" { textPrograms.append(program) } else { programs.append(program) }
                } catch {
                    let failed = UnloadableProgram(name: function.name, section: section.name, reason: error)
                    if section.name == ".text" { unloadableText.append(failed) } else { unloadable.append(failed) }
                }
            }
        }
        var names: Set<String> = []
        for name in programs.map(\.name) + textPrograms.map(\.name) + unloadable.map(\.name) + unloadableText.map(\.name)
            where !names.insert(name).inserted {
            throw .contradiction("two programs are named '\(name)'")
        }
        // libbpf treats `.text` functions as subprograms; only an object without
        // program sections (hand-written `mem` programs) offers them as programs.
        let hasSections = !programs.isEmpty || !unloadable.isEmpty
        return hasSections ? (programs, unloadable) : (textPrograms, unloadableText)
    }

    private func code(_ section: ELFFile.Section) throws(ELFError) -> Code {
        guard section.size % 8 == 0 else {
            throw .badSection(name: section.name, reason: "size \(section.size) is not a whole number of 8-byte instructions")
        }
        let bytes = try elf.contents(section)
        var slots = stride(from: 0, to: bytes.count, by: 8).map { RawInstruction(bytes: bytes[$0..<$0 + 8], byteOrder: elf.byteOrder) }
        var coreResult = CORE.SectionResult()
        if let core, let records = core.records[section.name] {
            coreResult = CORE.apply(records, to: &slots, section: section.name, local: core.local, target: core.target,
                                    byteOrder: elf.byteOrder)
        }
        var relocations: [Int: ELFFile.Relocation] = [:]
        for relocation in try elf.relocations(for: section.index) {
            guard let type = RelocationType(rawValue: relocation.type) else {
                throw .unknownRelocationType(section: section.name, offset: relocation.offset, type: relocation.type)
            }
            if type == .none { continue }
            guard relocation.offset % 8 == 0, relocation.offset / 8 < slots.count else {
                throw .badRelocation(section: section.name, offset: relocation.offset, reason: "not at an instruction of the section")
            }
            guard relocations.updateValue(relocation, forKey: relocation.offset / 8) == nil else {
                throw .badRelocation(section: section.name, offset: relocation.offset, reason: "two relocations for one instruction")
            }
        }
        return Code(section: section, slots: slots, relocations: relocations, poisoned: coreResult.poisoned,
                    coreErrors: coreResult.errors)
    }

    /// A program: `range` of `code`, then all of `.text` if any call or
    /// reference leads there.
    private func build(name: String, code: Code, range: Range<Int>, text: Code?, lineInfo: LineInfo) throws(ELFError) -> ObjectProgram {
        var slots = Array(code.slots[range])
        if let (_, error) = code.coreErrors.filter({ range.contains($0.key) }).min(by: { $0.key < $1.key }) { throw error }
        var poisoned: [Int: PoisonedInstruction] = [:]
        for (slot, poison) in code.poisoned where range.contains(slot) { poisoned[slot - range.lowerBound] = poison }
        var textTargets: [(pc: Int, target: Int)] = []
        try relocate(&slots, code: code, sourceStart: range.lowerBound, base: 0, range: range, textTargets: &textTargets)
        var subprogramsStart: Int?
        if !textTargets.isEmpty {
            guard let text else {
                throw .missingSection(".text", reason: "program '\(name)' calls a subprogram")
            }
            let base = slots.count
            subprogramsStart = base
            if let (_, error) = text.coreErrors.min(by: { $0.key < $1.key }) { throw error }
            for (slot, poison) in text.poisoned { poisoned[base + slot] = poison }
            var textSlots = text.slots
            var inner: [(pc: Int, target: Int)] = []
            try relocate(&textSlots, code: text, sourceStart: 0, base: base, range: 0..<text.slots.count, textTargets: &inner)
            slots += textSlots
            textTargets += inner.map { ($0.pc + base, $0.target) }
            for (pc, target) in textTargets {
                slots[pc].imm = Int32(base + target - (pc + 1))
            }
        }
        do {
            return ObjectProgram(name: name, section: code.section.name, program: try Program(raw: slots, name: name),
                                 subprogramsStart: subprogramsStart,
                                 lines: lineInfo.lines(section: code.section.name, range: range, textBase: subprogramsStart),
                                 poisoned: poisoned)
        } catch {
            throw .badProgram(name: name, error)
        }
    }

    /// Applies `code`'s relocations to `slots` (a copy of `code.slots[range]`
    /// placed at `base` of the final program). Calls into `.text` are recorded
    /// in `textTargets` as (slot in `slots`, slot index in `.text`) to fix up once
    /// `.text` is placed.
    private func relocate(_ slots: inout [RawInstruction], code: Code, sourceStart: Int, base: Int, range: Range<Int>,
                          textTargets: inout [(pc: Int, target: Int)]) throws(ELFError) {
        let isText = code.section.name == ".text"
        for pc in slots.indices {
            let sectionSlot = sourceStart + pc
            let offset = sectionSlot * 8
            func bad(_ reason: String) -> ELFError { .badRelocation(section: code.section.name, offset: offset, reason: reason) }
            let raw = slots[pc]
            if let relocation = code.relocations[sectionSlot] {
                let symbol = elf.symbols[relocation.symbol]
                let type = RelocationType(rawValue: relocation.type)!
                if raw.opcode == Self.opcodeCall && (symbol.sectionIndex == 0 || raw.src == 2) {
                    // A kfunc (`extern ... __ksym`): BPF_PSEUDO_KFUNC_CALL with the function's BTF id; the
                    // loader resolves it by name against the embedder's functions.
                    guard let id = btfFunctions[symbol.name] else {
                        throw bad("call to kernel function '\(symbol.name)' (a kfunc), which the object's BTF does not describe")
                    }
                    slots[pc].src = 2
                    slots[pc].imm = id
                    continue
                }
                if raw.opcode == Self.opcodeCall && raw.src == 1 {
                    guard type == .r64_32 else { throw bad("call with relocation type \(relocation.type); expected R_BPF_64_32 (10)") }
                    let target = try callTarget(symbol, imm: raw.imm, bad)
                    if symbol.sectionIndex == code.section.index, !isText {
                        guard range.contains(target) else { throw bad("call to '\(symbol.name)', another program's code") }
                        slots[pc].imm = Int32(target - sectionSlot - 1)
                    } else if let text = elf.section(named: ".text"), symbol.sectionIndex == text.index {
                        textTargets.append((pc, target))
                    } else {
                        throw bad("call to '\(symbol.name)' outside '.text' and this function")
                    }
                } else if raw.opcode == Self.opcodeLoadImmediate64 {
                    guard type == .r64_64 else { throw bad("64-bit load with relocation type \(relocation.type); expected R_BPF_64_64 (1)") }
                    guard pc + 1 < slots.count else { throw bad("64-bit load at the end of the function") }
                    if symbol.sectionIndex > 0, symbol.sectionIndex < elf.sections.count, elf.sections[symbol.sectionIndex].isExecutable {
                        // A function's address (a callback of bpf_loop and the like): BPF_PSEUDO_FUNC, libbpf's
                        // `(sym_off + imm) / 8`, relative to the next slot as a local call's target.
                        let byte = Int64(symbol.value) + Int64(raw.imm)
                        guard byte >= 0, byte % 8 == 0, byte / 8 < Int64(elf.sections[symbol.sectionIndex].size / 8) else {
                            throw bad("address of function '\(symbol.name)' + \(raw.imm) is not an instruction of its section")
                        }
                        let target = Int(byte / 8)
                        slots[pc].src = 4
                        slots[pc + 1].imm = 0
                        if symbol.sectionIndex == code.section.index, !isText {
                            guard range.contains(target) else { throw bad("address of '\(symbol.name)', another program's code") }
                            slots[pc].imm = Int32(target - sectionSlot - 1)
                        } else if let text = elf.section(named: ".text"), symbol.sectionIndex == text.index {
                            textTargets.append((pc, target))
                        } else {
                            throw bad("address of function '\(symbol.name)' outside '.text' and this function")
                        }
                        continue
                    }
                    try relocateLoad(&slots, pc, symbol, bad)
                } else if type == .abs64 || type == .abs32 || type == .nodyld32 {
                    throw bad("data relocation type \(relocation.type) applied to an instruction (opcode 0x\(String(raw.opcode, radix: 16)))")
                } else {
                    throw bad("relocation type \(relocation.type) on an instruction that takes none (opcode 0x\(String(raw.opcode, radix: 16)))")
                }
            } else if raw.opcode == Self.opcodeCall && raw.src == 1 {
                // A call clang resolved itself: relative to the section.
                let target = sectionSlot + Int(raw.imm) + 1
                if range.contains(target) { continue }
                guard isText, target >= 0, target < code.slots.count else {
                    throw .badProgram(name: code.section.name, .badJumpTarget(index: pc + base, target: target, count: code.slots.count))
                }
                textTargets.append((pc, target))
            }
        }
    }

    /// The section slot a pseudo call reaches: libbpf's `sym_off / 8 + imm + 1`.
    private func callTarget(_ symbol: ELFFile.Symbol, imm: Int32, _ bad: (String) -> ELFError) throws(ELFError) -> Int {
        guard symbol.value % 8 == 0, symbol.value < 1 << 31 else { throw bad("call target '\(symbol.name)' is not at an instruction") }
        guard symbol.sectionIndex > 0, symbol.sectionIndex < elf.sections.count else {
            throw bad("call to '\(symbol.name)', which is not defined in this object (extern functions and kfuncs are not supported)")
        }
        let target = Int(symbol.value / 8) + Int(imm) + 1
        guard target >= 0, target < elf.sections[symbol.sectionIndex].size / 8 else {
            throw bad("call to '\(symbol.name)' lands outside its section")
        }
        return target
    }

    /// Map and global-data references: `r = map ll` and `r = &var ll`.
    private func relocateLoad(_ slots: inout [RawInstruction], _ pc: Int, _ symbol: ELFFile.Symbol,
                              _ bad: (String) -> ELFError) throws(ELFError) {
        if symbol.sectionIndex == 0 || symbol.sectionIndex >= 0xff00 {
            throw bad("reference to '\(symbol.name)', which is not defined in this object (extern __kconfig/__ksym variables are not supported)")
        }
        if let unsupported = maps.unsupported[symbol.sectionIndex]?.first(where: { $0.offset == symbol.value }) {
            throw .unsupportedMap(name: unsupported.name, type: unsupported.type)
        }
        if let definitions = maps.definitionSections[symbol.sectionIndex] {
            guard let map = definitions.first(where: { $0.offset == symbol.value }) else {
                throw bad("'\(symbol.name)' is not the start of a map definition")
            }
            slots[pc].src = 5 // BPF_PSEUDO_MAP_IDX
            slots[pc].imm = Int32(map.index)
            slots[pc + 1].imm = 0
            return
        }
        if let index = maps.dataSections[symbol.sectionIndex] {
            let size = maps.maps[index].definition.valueSize
            // A corrupted symbol value can exceed every signed width: compare before converting.
            guard symbol.value <= UInt64(min(size, Int(Int32.max))), case let offset = Int64(symbol.value) + Int64(slots[pc].imm),
                  offset >= 0, offset <= Int64(size) else {
                throw bad("'\(symbol.name)' + \(slots[pc].imm) is outside '\(maps.maps[index].name)' (\(size) bytes)")
            }
            slots[pc].src = 6 // BPF_PSEUDO_MAP_IDX_VALUE
            slots[pc].imm = Int32(index)
            slots[pc + 1].imm = Int32(offset)
            return
        }
        let section = elf.sections[symbol.sectionIndex]
        if section.isExecutable {
            throw bad("address of function '\(symbol.name)' taken (callbacks such as bpf_loop are not supported)")
        }
        throw bad("reference to '\(symbol.name)' in section '\(section.name)', which is neither a map nor global data")
    }
}

/// The CO-RE relocations of an object and the types they resolve against.
struct COREContext {
    let records: [String: [CORE.Record]]
    let local: BTF
    let target: TargetBTF

    /// nil when the object has no CO-RE relocations (then `target` is never asked).
    init?(elf: ELFFile, target: CORETarget) throws(ELFError) {
        guard let btfSection = elf.section(named: ".BTF"), let extSection = elf.section(named: ".BTF.ext") else { return nil }
        let btfReader = try elf.reader(btfSection)
        let records = try CORE.records(btf: btfReader, ext: try elf.reader(extSection))
        guard !records.isEmpty else { return nil }
        self.records = records
        local = try BTF(btfReader)
        self.target = try target.provide() ?? TargetBTF(btf: local, origin: "the object's own BTF")
    }
}
