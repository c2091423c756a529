#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CBPFPlatform

/// The real platform: Linux system calls.
///
/// Besides forwarding, it enforces W^X itself: any request for a mapping
/// that is writable and executable is refused before reaching the kernel.
public struct SystemPlatform: ExecMemoryPlatform {
    public init() {}

    public var pageSize: Int {
        Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    public var requiresInstructionCacheMaintenance: Bool {
        bpf_instruction_cache_needs_maintenance() != 0
    }

    public func createMemoryFile(name: String, length: Int, hugeTLB: Bool) throws(ExecMemoryError) -> MemoryFile {
        var flags = BPF_MFD_CLOEXEC | BPF_MFD_ALLOW_SEALING
        if hugeTLB {
            flags |= BPF_MFD_HUGETLB
        }
        // MFD_EXEC keeps the file mappable PROT_EXEC when vm.memfd_noexec
        // makes new memfds non-executable; kernels before 6.3 reject the flag
        // with EINVAL and are executable by default anyway.
        var descriptor = bpf_memfd_create(name, flags | BPF_MFD_EXEC)
        if descriptor < 0 && errno == EINVAL {
            descriptor = bpf_memfd_create(name, flags)
        }
        guard descriptor >= 0 else {
            throw .systemCall("memfd_create", errno: errno)
        }
        guard ftruncate(descriptor, off_t(length)) == 0 else {
            let error = errno
            close(descriptor)
            throw .systemCall("ftruncate", errno: error)
        }
        // Fix the size for good: a shrunk file would turn mapped code into
        // SIGBUS, a grown one would be memory nobody accounts for.
        guard bpf_add_seals(descriptor, BPF_F_SEAL_SHRINK | BPF_F_SEAL_GROW) == 0 else {
            let error = errno
            close(descriptor)
            throw .systemCall("fcntl(F_ADD_SEALS)", errno: error)
        }
        return MemoryFile(descriptor: descriptor, hugeTLB: hugeTLB)
    }

    public func closeMemoryFile(_ file: MemoryFile) {
        close(file.descriptor)
    }

    /// `pwrite` into the file (never for hugetlb files, which have no
    /// `write`). A partial or failed write returns false; the caller then
    /// writes the whole range again through a view.
    public func write(_ bytes: UnsafeRawBufferPointer, to file: MemoryFile, at offset: Int) -> Bool {
        guard !file.hugeTLB else {
            return false
        }
        var done = 0
        while done < bytes.count {
            let count = pwrite(file.descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if count < 0 && errno == EINTR {
                continue
            }
            guard count > 0 else {
                return false
            }
            done += count
        }
        return true
    }

    public func map(
        length: Int,
        protection: MemoryProtection,
        backing: MappingBacking,
        fixedAt address: UnsafeMutableRawPointer?
    ) throws(ExecMemoryError) -> UnsafeMutableRawPointer {
        guard !protection.isWritableAndExecutable else {
            throw .writableAndExecutable
        }
        var flags: Int32 = address == nil ? 0 : MAP_FIXED
        var descriptor: Int32 = -1
        var offset: off_t = 0
        switch backing {
        case .reservation:
            flags |= MAP_PRIVATE | MAP_ANONYMOUS | BPF_MAP_NORESERVE
        case .anonymous:
            flags |= MAP_PRIVATE | MAP_ANONYMOUS
        case .file(let file, let fileOffset):
            flags |= MAP_SHARED
            descriptor = file.descriptor
            offset = off_t(fileOffset)
        }
        if address == nil, protection.contains(.execute) || backing == .reservation,
           let near = Self.mapNearHostCode(length, Self.bits(of: protection), flags, descriptor, offset) {
            return near
        }
        let result = mmap(address, length, Self.bits(of: protection), flags, descriptor, offset)
        guard let result, result != MAP_FAILED else {
            throw .systemCall("mmap", errno: errno)
        }
        return result
    }

    /// Maps executable memory (or the reservation it is carved from) close
    /// below the host's own code, so that JITed code reaches helpers and
    /// host routines with direct calls (x86-64 `call rel32`, arm64 `bl`
    /// within ±128 MiB where it can): tries addresses from 32 MiB below the
    /// code downwards, never replacing a mapping (MAP_FIXED_NOREPLACE);
    /// nil when no place is free, and the caller maps wherever the kernel
    /// likes (JITs then call indirectly).
    private static func mapNearHostCode(_ length: Int, _ protection: Int32, _ flags: Int32, _ descriptor: Int32,
                                        _ offset: off_t) -> UnsafeMutableRawPointer? {
        let anchor = bpf_host_code_anchor() & ~UInt(hugeAlignment - 1)
        let step = UInt(max(length, hugeAlignment) + hugeAlignment - 1) & ~UInt(hugeAlignment - 1)
        var hint = anchor &- UInt(32 << 20) &- step
        for _ in 0..<64 {
            guard hint < anchor, anchor - hint < UInt(1 << 30) else { return nil }
            let result = mmap(UnsafeMutableRawPointer(bitPattern: hint), length, protection, flags | BPF_MAP_FIXED_NOREPLACE,
                              descriptor, offset)
            if let result, result != MAP_FAILED {
                if UInt(bitPattern: result) == hint { return result }
                // A kernel without MAP_FIXED_NOREPLACE took the address as a hint only.
                munmap(result, length)
                return nil
            }
            guard errno == EEXIST else { return nil }
            hint &-= step
        }
        return nil
    }

    private static let hugeAlignment = 2 << 20

    public func unmap(_ address: UnsafeMutableRawPointer, length: Int) {
        // munmap fails only for arguments that were never a mapping of ours:
        // continuing would leave code mapped that the pack believes gone.
        let result = munmap(address, length)
        precondition(result == 0, "munmap(\(address), \(length)) failed with errno \(errno)")
    }

    public func protect(
        _ address: UnsafeMutableRawPointer,
        length: Int,
        protection: MemoryProtection
    ) throws(ExecMemoryError) {
        guard !protection.isWritableAndExecutable else {
            throw .writableAndExecutable
        }
        guard mprotect(address, length, Self.bits(of: protection)) == 0 else {
            throw .systemCall("mprotect", errno: errno)
        }
    }

    public func advise(_ address: UnsafeMutableRawPointer, length: Int, _ advice: MemoryAdvice) -> Bool {
        switch advice {
        case .hugePages:
            return madvise(address, length, BPF_MADV_HUGEPAGE) == 0
        }
    }

    public func flushInstructionCache(_ address: UnsafeRawPointer, length: Int) {
        let begin = UnsafeMutableRawPointer(mutating: address)
        bpf_clear_instruction_cache(begin, begin + length)
    }

    public func hugePageBytes(inMappingAt address: UnsafeRawPointer) -> Int {
        guard let smaps = ProcFile.contents(of: "/proc/self/smaps") else {
            return 0
        }
        return SmapsEntry.hugePageBytes(in: smaps, mappingStart: UInt(bitPattern: address))
    }

    private static func bits(of protection: MemoryProtection) -> Int32 {
        var bits = PROT_NONE
        if protection.contains(.read) { bits |= PROT_READ }
        if protection.contains(.write) { bits |= PROT_WRITE }
        if protection.contains(.execute) { bits |= PROT_EXEC }
        return bits
    }
}

/// Reads small /proc files without Foundation.
package enum ProcFile {
    package static func contents(of path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            return nil
        }
        defer { close(descriptor) }
        var contents: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR {
                continue
            }
            guard count > 0 else {
                break
            }
            contents.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: contents, as: UTF8.self)
    }
}

/// Reads the huge-page fields of one mapping out of /proc/self/smaps.
enum SmapsEntry {
    /// Fields that count memory mapped with huge pages, in kB.
    static let hugeFields: Set<Substring> = [
        "AnonHugePages", "ShmemPmdMapped", "FilePmdMapped", "Shared_Hugetlb", "Private_Hugetlb",
    ]

    static func hugePageBytes(in smaps: String, mappingStart: UInt) -> Int {
        let header = String(mappingStart, radix: 16) + "-"
        var inEntry = false
        var kilobytes = 0
        for line in smaps.split(separator: "\n") {
            // A header line is "start-end perms offset dev inode path"; field
            // lines are "Name:   value kB".
            let firstField = line.prefix { $0 != " " }
            let isHeader = firstField.contains("-") && firstField.allSatisfy { $0 == "-" || $0.isHexDigit }
            if isHeader {
                if inEntry {
                    break
                }
                inEntry = line.hasPrefix(header)
                continue
            }
            guard inEntry else {
                continue
            }
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, parts[0].hasSuffix(":") else {
                continue
            }
            if hugeFields.contains(parts[0].dropLast()), let value = Int(parts[1]) {
                kilobytes += value
            }
        }
        return kilobytes * 1024
    }
}
