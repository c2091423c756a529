import BPFISA
import BPFJIT

/// What `bpfkit dump jited` prints: each BPF instruction followed by its
/// native instructions, with the prologues, epilogues and out-of-line code
/// in their own sections, and the image's size and call counts.
public struct JITListing: Sendable {
    public struct Section: Sendable {
        /// The BPF slot this section lowers, or nil for prologue/epilogue/trailer code.
        public let pc: Int?
        /// What the section is: the BPF instruction, or "prologue of function 0" etc.
        public let title: String
        public let instructions: [NativeInstruction]
    }

    public let architecture: JITArchitecture
    public let address: UInt
    public let imageSize: Int
    public let directCalls: Int
    public let indirectCalls: Int
    public let passes: Int
    public let sections: [Section]
    /// Tail calls live-patched through their program array (seed 002's bypass and target).
    public let tailCallSites: [JITTailCallSite]
    /// Tail calls that look their program up at run time.
    public let indirectTailCalls: Int

    /// Disassembles `image` section by section.
    public init(image: JITImage, program: Program, describe: (Instruction) -> String = { "\($0)" }) throws(DisassemblerError) {
        let disassembler = try NativeDisassembler(image.architecture)
        architecture = image.architecture
        address = image.address
        imageSize = image.size
        directCalls = image.statistics.directCalls
        indirectCalls = image.statistics.indirectCalls
        passes = image.passes
        tailCallSites = image.tailCallSites
        indirectTailCalls = image.statistics.indirectTailCalls

        // Cut the image at every boundary the driver recorded.
        var cuts: [(offset: Int, pc: Int?, title: String)] = []
        for (k, offset) in image.functionOffsets.enumerated() { cuts.append((Int(offset), nil, "prologue of function \(k)")) }
        for (k, offset) in image.epilogueOffsets.enumerated() { cuts.append((Int(offset), nil, "epilogue of function \(k)")) }
        for pc in 0..<image.instructionCount where program.instructions[pc] != .immediate64Tail {
            cuts.append((Int(image.instructionOffsets[pc]), pc, "\(pc): \(describe(program.instructions[pc]))"))
        }
        cuts.append((Int(image.instructionOffsets[image.instructionCount]), nil, "out-of-line stubs and routines"))
        // Stable order: at equal offsets, prologues before instructions, instructions in pc order.
        let ordered = cuts.enumerated().sorted { a, b in
            a.element.offset != b.element.offset ? a.element.offset < b.element.offset : a.offset < b.offset
        }.map(\.element)
        var sections: [Section] = []
        for (i, cut) in ordered.enumerated() {
            let end = i + 1 < ordered.count ? ordered[i + 1].offset : image.size
            let bytes = Array(image.bytes[cut.offset..<max(cut.offset, end)])
            let decoded = disassembler.disassemble(bytes, address: UInt64(image.address) + UInt64(cut.offset), baseOffset: cut.offset)
            sections.append(Section(pc: cut.pc, title: cut.title, instructions: decoded))
        }
        self.sections = sections
    }

    /// The listing as text.
    public var text: String {
        var lines: [String] = []
        for section in sections {
            if section.pc == nil && section.instructions.isEmpty { continue }
            lines.append(section.pc == nil ? "; \(section.title)" : section.title)
            for instruction in section.instructions {
                let offset: String = String(instruction.offset, radix: 16)
                let hexBytes: [String] = instruction.bytes.map { (byte: UInt8) -> String in
                    (byte < 16 ? "0" : "") + String(byte, radix: 16)
                }
                var hex: String = hexBytes.joined(separator: " ")
                if hex.count < 30 { hex += String(repeating: " ", count: 30 - hex.count) }
                let indent = String(repeating: " ", count: max(0, 5 - offset.count))
                lines.append("  \(indent)\(offset):  \(hex) \(instruction.text)")
            }
        }
        lines.append("; image: \(imageSize) bytes at 0x\(String(address, radix: 16)), \(passes) passes; "
                     + "host calls: \(directCalls) direct, \(indirectCalls) indirect")
        if !tailCallSites.isEmpty || indirectTailCalls > 0 {
            lines.append("; direct tail call sites: \(tailCallSites.count), indirect tail calls: \(indirectTailCalls)")
        }
        for site in tailCallSites {
            lines.append("; tail call at \(site.pc): prog_array 0x\(String(site.arrayHandle, radix: 16)) slot \(site.index), "
                         + "bypass at \(String(site.bypassOffset, radix: 16)), \(site.kind == .jump ? "jump" : "call") "
                         + "patched at \(String(site.targetOffset, radix: 16))")
        }
        return lines.joined(separator: "\n")
    }
}
