import BPFClassic
import CPcap
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A capture that cannot be read or written; names the file and, for a bad
/// record, its number (the first record is 1).
public struct CaptureError: Error, Sendable, Hashable, CustomStringConvertible {
    public let path: String
    public let record: Int?
    public let reason: String

    public init(path: String, record: Int? = nil, _ reason: String) {
        self.path = path
        self.record = record
        self.reason = reason
    }

    public var description: String {
        if let record { return "\(path): record \(record): \(reason)" }
        return "\(path): \(reason)"
    }
}

/// One packet of a capture.
public struct CapturedPacket: Sendable, Hashable {
    /// Seconds and microseconds since the epoch.
    public var seconds: Int
    public var microseconds: Int
    /// The captured bytes (`caplen` of them).
    public var bytes: [UInt8]
    /// The length the packet had on the wire (`len`).
    public var wireLength: UInt32

    public init(seconds: Int = 0, microseconds: Int = 0, bytes: [UInt8], wireLength: UInt32? = nil) {
        self.seconds = seconds
        self.microseconds = microseconds
        self.bytes = bytes
        self.wireLength = wireLength ?? UInt32(bytes.count)
    }
}

/// Link types (`LINKTYPE_*` / `DLT_*`) by name.
public enum LinkType {
    public static let ethernet: Int32 = 1
    public static let raw: Int32 = 12
    public static let linuxCooked: Int32 = 113

    /// libpcap's name for a link type (`EN10MB`), or nil when libpcap does not know it.
    public static func name(_ linkType: Int32) -> String? {
        guard let name = pcap_datalink_val_to_name(linkType) else { return nil }
        return String(cString: name)
    }

    /// The link type libpcap knows by `name` (`EN10MB`, `RAW`, ...).
    public static func named(_ name: String) -> Int32? {
        let value = pcap_datalink_name_to_val(name)
        return value < 0 ? nil : value
    }
}

/// Reads pcap and pcapng files through libpcap, packet by packet.
///
/// Classic pcap files are checked record by record before libpcap reads
/// them (`CaptureFileCheck`): a record whose captured length exceeds the
/// file's snapshot length, or that the file ends inside, is an error naming
/// the record (libpcap would silently cut the first and report the second
/// without its number). pcapng blocks are checked by libpcap; its errors are
/// given the number of the record being read.
public final class CaptureReader {
    public let path: String
    private let handle: OpaquePointer
    /// The capture's link type (`LINKTYPE_*`, as libpcap maps it to `DLT_*`).
    public let linkType: Int32
    /// The capture's snapshot length.
    public let snapshotLength: Int
    /// Records read so far.
    public private(set) var recordsRead = 0

    public init(path: String) throws(CaptureError) {
        self.path = path
        try CaptureFileCheck.check(path: path)
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let handle = pcap_open_offline(path, &errorBuffer) else {
            throw CaptureError(path: path, String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        self.handle = handle
        linkType = pcap_datalink(handle)
        snapshotLength = Int(pcap_snapshot(handle))
        // Fully initialised: deinit closes the handle if this throws.
        guard LinkType.name(linkType) != nil else { throw CaptureError(path: path, "unknown link type \(linkType)") }
    }

    deinit { pcap_close(handle) }

    /// How much of the file has been read, from 0 to 1 (for progress bars).
    public var fractionRead: Double {
        guard let file = pcap_file(handle), fileSize > 0 else { return 0 }
        return min(1, Double(ftello(file)) / Double(fileSize))
    }

    private lazy var fileSize: Int64 = {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }()

    /// libpcap's name for the link type.
    public var linkTypeName: String { LinkType.name(linkType) ?? "\(linkType)" }

    /// The next packet, or nil at the end of the file.
    public func next() throws(CaptureError) -> CapturedPacket? {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        let status = pcap_next_ex(handle, &header, &data)
        switch status {
        case 1:
            recordsRead += 1
            guard let header, let data else { throw CaptureError(path: path, record: recordsRead, "libpcap returned no packet") }
            let caplen = Int(header.pointee.caplen)
            return CapturedPacket(seconds: Int(header.pointee.ts.tv_sec), microseconds: Int(header.pointee.ts.tv_usec),
                                  bytes: Array(UnsafeBufferPointer(start: data, count: caplen)), wireLength: header.pointee.len)
        case PCAP_ERROR_BREAK:
            return nil
        default:
            throw CaptureError(path: path, record: recordsRead + 1, String(cString: pcap_geterr(handle)))
        }
    }

    /// Every remaining packet.
    public func readAll() throws(CaptureError) -> [CapturedPacket] {
        var packets: [CapturedPacket] = []
        while let packet = try next() { packets.append(packet) }
        return packets
    }
}

/// Writes a pcap file through libpcap (`pcap_dump`).
public final class CaptureWriter {
    public let path: String
    private let dead: OpaquePointer
    private let dumper: OpaquePointer
    private var closed = false

    public init(path: String, linkType: Int32, snapshotLength: Int = 262_144) throws(CaptureError) {
        self.path = path
        guard let dead = pcap_open_dead(linkType, Int32(clamping: snapshotLength)) else {
            throw CaptureError(path: path, "libpcap cannot write link type \(linkType)")
        }
        guard let dumper = pcap_dump_open(dead, path) else {
            let message = String(cString: pcap_geterr(dead))
            pcap_close(dead)
            throw CaptureError(path: path, message)
        }
        self.dead = dead
        self.dumper = dumper
    }

    deinit { close() }

    public func write(_ packet: CapturedPacket) {
        var header = pcap_pkthdr()
        header.ts.tv_sec = .init(packet.seconds)
        header.ts.tv_usec = .init(packet.microseconds)
        header.caplen = UInt32(packet.bytes.count)
        header.len = max(packet.wireLength, UInt32(packet.bytes.count))
        packet.bytes.withUnsafeBufferPointer { bytes in
            pcap_dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), &header, bytes.baseAddress)
        }
    }

    /// Flushes and closes the file (also done when the writer goes away).
    public func close() {
        guard !closed else { return }
        closed = true
        pcap_dump_close(dumper)
        pcap_close(dead)
    }

    /// Writes `packets` to a new pcap file at `path`.
    public static func write(_ packets: [CapturedPacket], to path: String, linkType: Int32 = LinkType.ethernet,
                             snapshotLength: Int = 262_144) throws(CaptureError) {
        let writer = try CaptureWriter(path: path, linkType: linkType, snapshotLength: snapshotLength)
        for packet in packets { writer.write(packet) }
        writer.close()
    }
}

/// The record framing of classic pcap files, checked without libpcap.
public enum CaptureFileCheck {
    /// Checks a classic pcap file's header and every record header, reading
    /// only the headers; pcapng and other formats are left to libpcap.
    public static func check(path: String) throws(CaptureError) {
        guard let file = fopen(path, "rb") else {
            throw CaptureError(path: path, "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var size: Int64 = 0
        if fseeko(file, 0, SEEK_END) == 0 { size = Int64(ftello(file)) }
        rewind(file)
        try check(size: size, path: path) { offset, count in
            guard fseeko(file, off_t(offset), SEEK_SET) == 0 else { return [] }
            var buffer = [UInt8](repeating: 0, count: count)
            let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, count, file) }
            return Array(buffer.prefix(n))
        }
    }

    /// Checks the bytes of a classic pcap file (`path` names it in errors).
    public static func check(bytes: [UInt8], path: String) throws(CaptureError) {
        try check(size: Int64(bytes.count), path: path) { offset, count in
            Array(bytes[min(Int(offset), bytes.count)..<min(Int(offset) + count, bytes.count)])
        }
    }

    /// `read(offset, count)` returns up to `count` bytes at `offset`.
    static func check(size: Int64, path: String, read: (Int64, Int) -> [UInt8]) throws(CaptureError) {
        let header = read(0, 24)
        guard header.count >= 4 else { throw CaptureError(path: path, "\(header.count) bytes is too short for a capture file header") }
        let magic = UInt32(header[0]) | UInt32(header[1]) << 8 | UInt32(header[2]) << 16 | UInt32(header[3]) << 24
        let swapped: Bool
        switch magic {
        case 0xa1b2_c3d4, 0xa1b2_3c4d: swapped = false
        case 0xd4c3_b2a1, 0x4d3c_b2a1: swapped = true
        default: return  // pcapng or not a capture: libpcap decides
        }
        func word(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
            let v = UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
            return swapped ? v.byteSwapped : v
        }
        guard header.count >= 24 else { throw CaptureError(path: path, "the file ends inside its 24-byte header (\(header.count) bytes)") }
        let snapshot = word(header, 16)
        var offset: Int64 = 24
        var record = 0
        while offset < size {
            record += 1
            let recordHeader = read(offset, 16)
            guard recordHeader.count == 16 else {
                throw CaptureError(path: path, record: record, "truncated record header: \(recordHeader.count) of 16 bytes")
            }
            let captured = word(recordHeader, 8)
            if snapshot > 0, captured > snapshot {
                throw CaptureError(path: path, record: record, "captured length \(captured) is larger than the snapshot length \(snapshot)")
            }
            let available = size - offset - 16
            guard Int64(captured) <= available else {
                throw CaptureError(path: path, record: record, "truncated record: \(captured) captured bytes, \(available) left in the file")
            }
            offset += 16 + Int64(captured)
        }
    }
}
