import BPFExecMemory
import Foundation

/// One line of /proc/self/maps.
struct ProcMapping: CustomStringConvertible {
    let start: UInt
    let end: UInt
    let permissions: String
    let path: String

    var isWritableAndExecutable: Bool {
        permissions.contains("w") && permissions.contains("x")
    }

    func contains(_ address: ExecutableAddress) -> Bool {
        address.rawValue >= start && address.rawValue < end
    }

    var description: String {
        String(start, radix: 16) + "-" + String(end, radix: 16) + " " + permissions + " " + path
    }

    /// The current mappings of this process.
    static func current() -> [ProcMapping] {
        guard let text = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else {
            return []
        }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5 else {
                return nil
            }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16)
            else {
                return nil
            }
            let path = fields.count == 6 ? fields[5].trimmingCharacters(in: .whitespaces) : ""
            return ProcMapping(start: start, end: end, permissions: String(fields[1]), path: path)
        }
    }

    /// Mappings of memory files named `name` (shown as "/memfd:NAME (deleted)").
    static func memfd(named name: String) -> [ProcMapping] {
        current().filter { $0.path.hasPrefix("/memfd:" + name + " ") || $0.path == "/memfd:" + name }
    }
}

/// A unique memfd name per test, so tests running in parallel can tell their
/// own mappings apart in /proc/self/maps.
func uniqueName(_ label: String) -> String {
    "bpfkit-test-\(label)-\(UInt32.random(in: 0...UInt32.max))"
}

/// Hand-encoded x86-64 code: `mov eax, imm32; ret` (B8 id; C3).
func returning(_ value: UInt32) -> [UInt8] {
    [0xB8] + withUnsafeBytes(of: value.littleEndian, Array.init) + [0xC3]
}

/// Calls the code at `address` as a C function `() -> UInt32`.
func call(_ address: ExecutableAddress) -> UInt32 {
    address.unsafeFunction(as: (@convention(c) () -> UInt32).self)()
}

/// Runs `body(index)` on `count` threads at once and waits for all of them.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            body(index)
            group.leave()
        }
        thread.start()
    }
    group.wait()
}

/// A platform that forwards to the real one and records every call, with
/// switches to pretend the system refused or granted things.
final class RecordingPlatform: ExecMemoryPlatform {
    struct Options: Sendable {
        var refuseHugeTLB = false
        var refuseAdvice = false
        var pretendTransparentHugePages = false
        var pretendCacheMaintenance = false
        /// Makes every map call after this many fail with ENOMEM.
        var failMapsAfter: Int? = nil
        /// Writes files directly (`pwrite`, as the system platform does);
        /// off: every store goes through a writable view.
        var writesFiles = false
    }

    enum Event: Equatable, Sendable {
        case createFile(descriptor: Int32, hugeTLB: Bool)
        case closeFile(descriptor: Int32)
        case map(address: UInt, length: Int, protection: MemoryProtection, backing: MappingBacking, fixed: Bool)
        case unmap(address: UInt, length: Int)
        case protect(address: UInt, length: Int, protection: MemoryProtection)
        case advise(address: UInt, length: Int)
        case flush(address: UInt, length: Int)
        case write(descriptor: Int32, offset: Int, length: Int)
    }

    let options: Options
    /// While set, every map call fails with ENOMEM.
    let failAllMaps = Shared(false)
    let system = SystemPlatform()
    let recorded = Shared<[Event]>([])

    init(_ options: Options = Options()) {
        self.options = options
    }

    var events: [Event] {
        recorded.value
    }

    private func log(_ event: Event) {
        recorded.update { $0.append(event) }
    }

    var pageSize: Int { system.pageSize }

    var requiresInstructionCacheMaintenance: Bool {
        options.pretendCacheMaintenance || system.requiresInstructionCacheMaintenance
    }

    func createMemoryFile(name: String, length: Int, hugeTLB: Bool) throws(ExecMemoryError) -> MemoryFile {
        if hugeTLB && options.refuseHugeTLB {
            throw .systemCall("memfd_create", errno: ENOMEM)
        }
        let file = try system.createMemoryFile(name: name, length: length, hugeTLB: hugeTLB)
        log(.createFile(descriptor: file.descriptor, hugeTLB: hugeTLB))
        return file
    }

    func closeMemoryFile(_ file: MemoryFile) {
        log(.closeFile(descriptor: file.descriptor))
        system.closeMemoryFile(file)
    }

    func map(
        length: Int, protection: MemoryProtection, backing: MappingBacking, fixedAt address: UnsafeMutableRawPointer?
    ) throws(ExecMemoryError) -> UnsafeMutableRawPointer {
        let mapsSoFar = events.filter { if case .map = $0 { true } else { false } }.count
        if failAllMaps.value || options.failMapsAfter.map({ mapsSoFar >= $0 }) == true {
            throw .systemCall("mmap", errno: ENOMEM)
        }
        let result = try system.map(length: length, protection: protection, backing: backing, fixedAt: address)
        log(
            .map(
                address: UInt(bitPattern: result), length: length, protection: protection, backing: backing,
                fixed: address != nil))
        return result
    }

    func unmap(_ address: UnsafeMutableRawPointer, length: Int) {
        log(.unmap(address: UInt(bitPattern: address), length: length))
        system.unmap(address, length: length)
    }

    func protect(
        _ address: UnsafeMutableRawPointer, length: Int, protection: MemoryProtection
    ) throws(ExecMemoryError) {
        log(.protect(address: UInt(bitPattern: address), length: length, protection: protection))
        try system.protect(address, length: length, protection: protection)
    }

    func advise(_ address: UnsafeMutableRawPointer, length: Int, _ advice: MemoryAdvice) -> Bool {
        log(.advise(address: UInt(bitPattern: address), length: length))
        return options.refuseAdvice ? false : system.advise(address, length: length, advice)
    }

    func flushInstructionCache(_ address: UnsafeRawPointer, length: Int) {
        log(.flush(address: UInt(bitPattern: address), length: length))
        system.flushInstructionCache(address, length: length)
    }

    func hugePageBytes(inMappingAt address: UnsafeRawPointer) -> Int {
        options.pretendTransparentHugePages ? 2 << 20 : system.hugePageBytes(inMappingAt: address)
    }

    func write(_ bytes: UnsafeRawBufferPointer, to file: MemoryFile, at offset: Int) -> Bool {
        guard options.writesFiles, system.write(bytes, to: file, at: offset) else {
            return false
        }
        log(.write(descriptor: file.descriptor, offset: offset, length: bytes.count))
        return true
    }

    /// Bytes still mapped with `protection`, replaying maps and unmaps
    /// (unmaps may cover parts of a mapping, as when trimming a reservation).
    func liveBytes(_ protection: MemoryProtection) -> Int {
        var live: [UInt: MemoryProtection] = [:]  // page address -> protection
        let page = UInt(pageSize)
        for event in events {
            switch event {
            case .map(let address, let length, let mapped, _, _):
                for pageAddress in stride(from: address, to: address + UInt(length), by: Int(page)) {
                    live[pageAddress] = mapped
                }
            case .unmap(let address, let length):
                for pageAddress in stride(from: address, to: address + UInt(length), by: Int(page)) {
                    live[pageAddress] = nil
                }
            default:
                break
            }
        }
        return live.values.filter { $0 == protection }.count * pageSize
    }

    /// Files created and not yet closed.
    var openFiles: Set<Int32> {
        var open: Set<Int32> = []
        for event in events {
            if case .createFile(let descriptor, _) = event { open.insert(descriptor) }
            if case .closeFile(let descriptor) = event { open.remove(descriptor) }
        }
        return open
    }
}

/// A value shared between test threads, under a pthread mutex (`NSLock`),
/// which ThreadSanitizer understands (see BPFSync's `Lock`).
final class Shared<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) {
        stored = value
    }

    var value: Value {
        lock.withLock { stored }
    }

    func update<Result>(_ body: (inout Value) -> Result) -> Result {
        lock.withLock { body(&stored) }
    }
}
