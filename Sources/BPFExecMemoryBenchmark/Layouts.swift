import BPFExecMemory

/// Where the benchmark's programs come from. Today: hand-encoded x86-64
/// `mov eax, imm32; ret`; a JIT backend's output slots in here later.
protocol ImageSource: Sendable {
    /// The machine code of program `index`.
    func image(for index: Int) -> [UInt8]
    /// What program `index` returns when called as `() -> UInt32`.
    func expectedResult(for index: Int) -> UInt32
}

/// `mov eax, index; ret` (B8 id; C3): six bytes, returns its own index.
struct MoveReturnImages: ImageSource {
    func image(for index: Int) -> [UInt8] {
        [0xB8] + withUnsafeBytes(of: UInt32(index).littleEndian, Array.init) + [0xC3]
    }

    func expectedResult(for index: Int) -> UInt32 {
        UInt32(index)
    }
}

/// Timings of loading one program, in nanoseconds.
struct LoadTiming {
    var allocate: Int
    var copy: Int
}

/// A way of placing programs in executable memory.
protocol ProgramLayout: AnyObject {
    var name: String { get }
    /// Places `image` and returns where it runs.
    func load(_ image: [UInt8]) throws -> (ExecutableAddress, LoadTiming)
    /// Faults in every page of executable memory the layout holds, so that
    /// resident memory counts all of it (the pack's trap-filled chunks too).
    func touchAll() throws
    /// Executable memory mapped for the loaded programs.
    var mappedBytes: Int { get }
    func unloadAll()
}

/// The program pack: programs share 2 MiB chunks in 64-byte units.
final class PackLayout: ProgramLayout {
    let name = "program pack"
    private let pack: ProgramPack
    private var slots: [PackSlot] = []

    init(pack: ProgramPack) {
        self.pack = pack
    }

    func load(_ image: [UInt8]) throws -> (ExecutableAddress, LoadTiming) {
        let start = Clock.nanoseconds()
        let slot = try pack.allocate(size: image.count)
        let allocated = Clock.nanoseconds()
        try pack.copy(image, into: slot)
        let copied = Clock.nanoseconds()
        slots.append(slot)
        return (slot.address, LoadTiming(allocate: allocated - start, copy: copied - allocated))
    }

    func touchAll() throws {
        let pageSize = SystemPlatform().pageSize
        for chunk in pack.statistics.chunks {
            for offset in stride(from: 0, to: chunk.size, by: pageSize) {
                _ = try pack.bytes(at: chunk.address.advanced(by: offset), count: 1)
            }
        }
    }

    var mappedBytes: Int {
        pack.statistics.mappedBytes
    }

    var statistics: PackStatistics {
        pack.statistics
    }

    func unloadAll() {
        for slot in slots {
            pack.free(slot)
        }
        slots.removeAll()
    }
}

/// The layout before packs: one page-aligned anonymous mapping per program,
/// written read+write, then flipped read+execute with mprotect.
final class PagePerProgramLayout: ProgramLayout {
    let name = "page per program"
    private let platform = SystemPlatform()
    private var pages: [UnsafeMutableRawPointer] = []

    func load(_ image: [UInt8]) throws -> (ExecutableAddress, LoadTiming) {
        let pageSize = platform.pageSize
        let start = Clock.nanoseconds()
        let page = try platform.map(length: pageSize, protection: .readWrite, backing: .anonymous, fixedAt: nil)
        let allocated = Clock.nanoseconds()
        let buffer = UnsafeMutableRawBufferPointer(start: page, count: pageSize)
        buffer.initializeMemory(as: UInt8.self, repeating: TrapPattern.x86_64.bytes[0])
        image.withUnsafeBytes { buffer.copyMemory(from: $0) }
        try platform.protect(page, length: pageSize, protection: .readExecute)
        let copied = Clock.nanoseconds()
        pages.append(page)
        return (ExecutableAddress(page), LoadTiming(allocate: allocated - start, copy: copied - allocated))
    }

    func touchAll() throws {
        // Every page was written while loading; all are resident already.
    }

    var mappedBytes: Int {
        pages.count * platform.pageSize
    }

    func unloadAll() {
        for page in pages {
            platform.unmap(page, length: platform.pageSize)
        }
        pages.removeAll()
    }
}

#if arch(x86_64)
import BPFISA
import BPFJITX86_64

/// Real x86-64 JIT output: program `index` is `r0 = index; r0 += 7; r0 *= 3; exit`,
/// compiled by the x86-64 backend. It makes no host calls, so its image does
/// not depend on where it is placed; entered without a run context, it returns
/// r0 in rax, which a `() -> UInt32` call reads as eax.
struct JITImages: ImageSource {
    func image(for index: Int) -> [UInt8] {
        let program = BPFISA.Program([
            .alu(.w64, .mov, dst: .r0, .immediate(Int32(index))),
            .alu(.w64, .add, dst: .r0, .immediate(7)),
            .alu(.w64, .mul, dst: .r0, .immediate(3)),
            .exit,
        ])
        do {
            return try X86_64JIT.assemble(program, at: 0x1000_0000).bytes
        } catch {
            fatalError("the benchmark's program \(index) did not compile: \(error)")
        }
    }

    func expectedResult(for index: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: (index + 7) * 3)
    }
}
#endif
