import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A bpffs instance of this process's own, for pinning what BPFKit loads into
/// the running kernel (the kernel differential tests, the bench's kernel
/// column).
///
/// `/sys/fs/bpf` is one filesystem shared by every process on the machine
/// (and every container that mounts it): pins there are global state, and a
/// cleanup that removes "stale" entries by process id removes other
/// processes' pins when they live in another PID namespace. Every mount of
/// bpffs is a new, empty instance, so BPFKit mounts its own under a fresh
/// temporary directory and pins only there. The mount is detached when the
/// process exits; mounts left by processes that died are detached the next
/// time one is made.
package enum PrivateBPFFilesystem {
    /// The mount point, or why there is none (mounting needs root).
    package static let mountPoint: Result<String, Failure> = mount()

    package struct Failure: Error, CustomStringConvertible {
        package let description: String
    }

    private static let prefix = "bpfkit-bpffs-"

    private static func mount() -> Result<String, Failure> {
        #if os(Linux)
        guard geteuid() == 0 else { return .failure(Failure(description: "mounting a private bpffs needs root")) }
        detachStaleMounts()
        let template = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)\(getpid())-XXXXXX").path
        var buffer = Array(template.utf8CString)
        guard let made = mkdtemp(&buffer) else {
            return .failure(Failure(description: "cannot make a directory for a private bpffs: \(String(cString: strerror(errno)))"))
        }
        let path = String(cString: made)
        guard Glibc.mount("bpf", path, "bpf", 0, nil) == 0 else {
            let reason = String(cString: strerror(errno))
            rmdir(path)
            return .failure(Failure(description: "cannot mount a private bpffs at \(path): \(reason)"))
        }
        mounted = path
        atexit { PrivateBPFFilesystem.detach() }
        return .success(path)
        #else
        return .failure(Failure(description: "bpffs exists on Linux only"))
        #endif
    }

    nonisolated(unsafe) private static var mounted: String?

    private static func detach() {
        #if os(Linux)
        guard let path = mounted else { return }
        umount2(path, Int32(MNT_DETACH))
        rmdir(path)
        #endif
    }

    /// Detaches private bpffs mounts whose process has ended.
    private static func detachStaleMounts() {
        #if os(Linux)
        guard let table = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return }
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { continue }
            let point = String(fields[4])
            let name = (point as NSString).lastPathComponent
            guard name.hasPrefix(prefix), line.contains(" - bpf ") else { continue }
            let pid = name.dropFirst(prefix.count).prefix { $0.isNumber }
            if let pid = Int32(pid), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH {
                umount2(point, Int32(MNT_DETACH))
                rmdir(point)
            }
        }
        #endif
    }
}
