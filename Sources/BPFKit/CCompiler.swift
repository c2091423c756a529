import Foundation
import BPFISA

/// Compiles C to a BPF object with clang, as `clang -O2 -g -target bpf -c` does.
///
/// The clang that ships with the Swift toolchain targets BPF, so no
/// configuration is needed: it is found beside `swift` on `PATH`, then in
/// /opt/swift, then as `clang` on `PATH`. `--clang PATH` overrides it.
public struct CCompiler: Sendable {
    public let clang: String

    public init(path: String? = nil) throws(LoadError) {
        if let path {
            guard FileManager.default.isExecutableFile(atPath: path) else { throw LoadError(path: path, "clang not found or not executable") }
            clang = path
            return
        }
        let search = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        var candidates: [String] = []
        for dir in search where FileManager.default.isExecutableFile(atPath: dir + "/swift") {
            let real = (try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/swift")).map {
                $0.hasPrefix("/") ? ($0 as NSString).deletingLastPathComponent : dir
            } ?? dir
            candidates.append(real + "/clang")
        }
        candidates.append("/opt/swift/usr/bin/clang")
        candidates += search.map { $0 + "/clang" }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw LoadError("no clang found to compile C to BPF (the Swift toolchain's clang, or give --clang PATH)")
        }
        clang = found
    }

    /// Compiles `source` and returns the object's bytes; clang's diagnostics become the error.
    /// `byteOrder` picks `-target bpfel` or `bpfeb` (nil: `bpf`, the host's order).
    public func compile(_ source: String, cpu: String = "v3", byteOrder: ByteOrder? = nil) throws(LoadError) -> [UInt8] {
        let output = FileManager.default.temporaryDirectory
            .appendingPathComponent("bpfkit-\(getpid())-\(UUID().uuidString).o").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: clang)
        process.arguments = ["-O2", "-g", "-target", Self.target(byteOrder), "-mcpu=\(cpu)"] + Self.byteOrderIncludes(byteOrder)
            + Self.includeFlags + ["-c", source, "-o", output]
        let errors = Pipe()
        process.standardError = errors
        do { try process.run() } catch { throw LoadError(path: clang, "cannot run: \(error.localizedDescription)") }
        let diagnostics = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw LoadError(path: source, "clang failed:\n\(diagnostics.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        do { return Array(try Data(contentsOf: URL(fileURLWithPath: output))) } catch {
            throw LoadError(path: output, "cannot read clang's output: \(error.localizedDescription)")
        }
    }

    /// clang's BPF target for a byte order.
    public static func target(_ byteOrder: ByteOrder?) -> String {
        switch byteOrder {
        case nil: "bpf"
        case .little?: "bpfel"
        case .big?: "bpfeb"
        }
    }

    /// Include flags that make the kernel's headers describe the byte order
    /// compiled for. `<asm/byteorder.h>` comes from the host's architecture
    /// folder, which on a little-endian host declares little-endian bit
    /// fields (`struct iphdr`'s `ihl` and `version`) even for `-target
    /// bpfeb`; for big endian a folder of BPFKit's own is searched first,
    /// whose `<asm/byteorder.h>` follows the compiler's `__BYTE_ORDER__`.
    public static func byteOrderIncludes(_ byteOrder: ByteOrder?) -> [String] {
        guard byteOrder == .big, let folder = byteOrderShim else { return [] }
        return ["-I\(folder)"]
    }

    private static let byteOrderShim: String? = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpfkit-byteorder-\(getuid())")
        let header = """
            /* BPFKit: <asm/byteorder.h> for the byte order clang compiles for. */
            #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
            #include <linux/byteorder/big_endian.h>
            #else
            #include <linux/byteorder/little_endian.h>
            #endif

            """
        do {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("asm"), withIntermediateDirectories: true)
            try Data(header.utf8).write(to: folder.appendingPathComponent("asm/byteorder.h"), options: .atomic)
        } catch {
            return nil
        }
        return folder.path
    }()

    /// `<linux/bpf.h>` includes `<asm/types.h>`, which Debian keeps under the
    /// host's multiarch folder; a BPF target does not look there by itself.
    static let includeFlags: [String] = {
        let base = "/usr/include"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        return entries.filter { FileManager.default.fileExists(atPath: "\(base)/\($0)/asm/types.h") }.map { "-I\(base)/\($0)" }
    }()
}
