import BPFBackendTestKit
import BPFExecMemory
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITX86_64
import BPFRuntime
#if canImport(Glibc)
import Glibc
#endif

/// Executable memory for tests only: one private mapping per image, written
/// while read-write and then flipped to read-execute (never both). It can
/// place images near to or far from an address, which the program pack does
/// not expose, to test both helper-call forms.
final class TestCodeMemory: CodeMemory, @unchecked Sendable {
    enum Placement { case anywhere, near(UInt), far(UInt) }
    let placement: Placement
    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    init(_ placement: Placement = .anywhere) { self.placement = placement }

    func allocate(size: Int, alignment: Int) throws(CodeMemoryError) -> CodeAllocation {
        let length = (max(size, 1) + Self.pageSize - 1) / Self.pageSize * Self.pageSize
        var hints: [UInt] = []
        switch placement {
        case .anywhere: break
        case .near(let address):
            let base = address & ~UInt(0xfffff)
            for step in 1...64 { hints.append(base + UInt(step) << 24); hints.append(base &- UInt(step) << 24) }
        case .far(let address):
            let base = address & ~UInt(0xfffff)
            for step in 1...64 { hints.append(base + UInt(16 + step) << 32) }
        }
        for hint in hints {
            let p = mmap(UnsafeMutableRawPointer(bitPattern: hint), length, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | 0x100000 /* MAP_FIXED_NOREPLACE */, -1, 0)
            if let p, p != MAP_FAILED { return CodeAllocation(address: UInt(bitPattern: p), size: size, token: length) }
        }
        if case .anywhere = placement {
            let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            if let p, p != MAP_FAILED { return CodeAllocation(address: UInt(bitPattern: p), size: size, token: length) }
        }
        throw CodeMemoryError("test mmap failed")
    }

    func copy(_ bytes: [UInt8], into allocation: CodeAllocation) throws(CodeMemoryError) {
        let length = allocation.token as! Int
        let p = UnsafeMutableRawPointer(bitPattern: allocation.address)!
        guard mprotect(p, length, PROT_READ | PROT_WRITE) == 0 else { throw CodeMemoryError("mprotect rw") }
        p.initializeMemory(as: UInt8.self, repeating: 0xcc, count: length)
        bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        guard mprotect(p, length, PROT_READ | PROT_EXEC) == 0 else { throw CodeMemoryError("mprotect rx") }
    }

    func free(_ allocation: CodeAllocation) {
        munmap(UnsafeMutableRawPointer(bitPattern: allocation.address), allocation.token as! Int)
    }

    func patch(_ allocation: CodeAllocation, at offset: Int, bytes: [UInt8]) throws(CodeMemoryError) {
        throw CodeMemoryError("patching is not supported by the test memory")
    }
}


/// Compiles and runs on the JIT.
func jit(_ instructions: [Instruction], helpers: [Helper] = [], limit: UInt64 = ExecutionLimits.defaultInstructionLimit,
         memory: any CodeMemory = ProgramPack.jit, checking: MemoryChecking = .checked) throws -> NativeProgram {
    let engine = X86_64JIT(memory: memory, options: JITOptions(memoryChecking: checking))
    return try engine.compile(Program(instructions), configuration: EngineConfiguration(helpers: HelperRegistry(helpers), instructionLimit: limit))
}

func run(_ instructions: [Instruction], r1: UInt64 = 0, r2: UInt64 = 0, regions: [MemoryRegion] = [],
         helpers: [Helper] = [], limit: UInt64 = ExecutionLimits.defaultInstructionLimit) throws -> UInt64 {
    try jit(instructions, helpers: helpers, limit: limit).run(RunInput(r1: r1, r2: r2, regions: MemoryRegions(regions)))
}

/// Short spellings for building programs in tests.
extension Instruction {
    static func mov64(_ d: Register, _ imm: Int32) -> Instruction { .alu(.w64, .mov, dst: d, .immediate(imm)) }
    static func mov64(_ d: Register, _ s: Register) -> Instruction { .alu(.w64, .mov, dst: d, .register(s)) }
    static func ld64(_ d: Register, _ v: UInt64) -> Instruction { .loadImmediate64(dst: d, .value(v)) }
}

/// Runs on both engines with the same input memory; returns both outcomes.
func bothEngines(_ instructions: [Instruction], memory bytes: [UInt8] = [], helpers: [Helper] = [],
                 limit: UInt64 = 100_000, checking: MemoryChecking = .checked) -> (jit: Outcome, interpreter: Outcome) {
    runOnBoth(instructions, memory: bytes, helpers: helpers, limit: limit, engine: X86_64JIT(options: JITOptions(memoryChecking: checking)))
}
