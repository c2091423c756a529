import BPFMaps
import BPFRuntime
import Testing
@testable import BPFHelpers

@Suite struct TraceFormatTests {
    func format(_ f: String, _ args: [UInt64] = [], strings: [UInt64: String] = [:]) -> String? {
        TraceFormat.format(Array(f.utf8), arguments: args + Array(repeating: 0, count: 3 - args.count)) { Array(strings[$0, default: ""].utf8) }
    }

    @Test func conversions() {
        #expect(format("%d %i %u", [UInt64(bitPattern: -5), UInt64(bitPattern: -6), UInt64(bitPattern: -7)]) == "-5 -6 4294967289")
        #expect(format("%x %ld %lu", [0xabc, UInt64(bitPattern: -1_234_567_890_123), 77]) == "abc -1234567890123 77")
        #expect(format("%lx %lld %llu", [0x1_2345_6789a, UInt64(bitPattern: -9), .max]) == "123456789a -9 18446744073709551615")
        #expect(format("%llx %c %%", [0xfedc_ba98_7654_3210, 90]) == "fedcba9876543210 Z %")
        #expect(format("[%s] %5d|%-4u|", [0x1000, 42, 7], strings: [0x1000: "bpfkit"]) == "[bpfkit]    42|7   |")
        #expect(format("%08x %+d % d", [0xbeef, 5, 6]) == "0000beef +5  6")
        #expect(format("%X %p", [0xab, 0x1234]) == "AB 0x1234")
        #expect(format("plain") == "plain")
    }

    @Test func whatTheKernelRefuses() {
        #expect(format("%q", [1]) == nil)
        #expect(format("%d %d %d %d", [1, 2, 3]) == nil, "four conversions, three arguments at most")
        #expect(format("%n", [1]) == nil)
        #expect(format("%pZ", [1]) == nil)
        #expect(format("caf\u{e9}") == nil, "non-ASCII")
    }
}

@Suite struct ChecksumTests {
    func words(_ values: [UInt32]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.littleEndian) { Array($0) } } }

    /// Values this machine's kernel returned for the same calls (see the kernel differential tests).
    @Test func matchesTheKernel() {
        #expect(InternetChecksum.difference(from: words([0x7856_3412]), to: words([0x0100_ffff, 0xffff_ffff]), seed: 0x1234) == 26315)
        #expect(InternetChecksum.difference(from: [], to: words([0xffff_ffff, 0xffff_ffff]), seed: 0xffff_0000) == 65535)
        #expect(InternetChecksum.difference(from: words([0x0102_0304, 0xf0f0_f0f0]), to: [], seed: 5) == 6685)
        #expect(InternetChecksum.difference(from: [0, 0, 0], to: [], seed: 5) == 5)
    }

    @Test func checksumOfAHeaderFoldsToItsComplement() {
        // An IPv4 header with a correct checksum sums to 0xffff.
        let header: [UInt8] = [0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0, 0xc7]
        #expect(InternetChecksum.difference(from: [], to: header, seed: 0) == 0xffff)
        #expect(InternetChecksum.difference(from: [], to: header, seed: 0, byteOrder: .big) == 0xffff)
    }

    /// A big-endian machine sums big-endian words (RFC 1071 written out here
    /// over 16-bit words in network order, odd tails padded with zero): the
    /// helper's big-endian result is that sum, seed added and `from` taken away.
    @Test func bigEndianSumsBigEndianWords() {
        func rfc1071(_ bytes: [UInt8]) -> UInt32 {
            var sum: UInt64 = 0
            for i in stride(from: 0, to: bytes.count, by: 2) {
                sum += UInt64(bytes[i]) << 8 | (i + 1 < bytes.count ? UInt64(bytes[i + 1]) : 0)
            }
            while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
            return UInt32(sum)
        }
        func add(_ a: UInt32, _ b: UInt32) -> UInt32 { let s = a + b; return (s & 0xffff) + (s >> 16) }
        var generator = SystemRandomNumberGenerator()
        for length in [2, 4, 6, 8, 20, 36, 40, 64] {
            let to = (0..<length).map { _ in UInt8.random(in: 1...255, using: &generator) }
            let from = (0..<length / 2 * 2).map { _ in UInt8.random(in: 1...255, using: &generator) }
            let seed = UInt32.random(in: 1...0xfffe, using: &generator)
            #expect(InternetChecksum.difference(from: [], to: to, seed: 0, byteOrder: .big) == rfc1071(to), "length \(length)")
            let expected = add(add(seed, rfc1071(to)), ~rfc1071(from) & 0xffff)
            let got = InternetChecksum.difference(from: from, to: to, seed: seed, byteOrder: .big)
            // Ones' complement has two zeros; compare modulo 0xffff.
            #expect(got % 0xffff == expected % 0xffff, "length \(length): \(got) vs \(expected)")
        }
    }
}

@Suite struct KernelHelperTableTests {
    @Test func numbersNamesAndPrototypes() {
        #expect(KernelHelper.mapLookupElem.rawValue == 1 && KernelHelper.tailCall.rawValue == 12 && KernelHelper.ringbufDiscard.rawValue == 133)
        #expect(Set(KernelHelper.allCases.map(\.name)).count == KernelHelper.allCases.count)
        for helper in KernelHelper.allCases {
            #expect(helper.name.hasPrefix("bpf_"))
            #expect(helper.prototype.arguments.count <= 5)
            #expect(KernelHelpers.registry()[helper.rawValue]?.prototype == helper.prototype)
        }
        #expect(KernelHelper.getPrandomU32.prototype.result == .scalar(bits: 32))
        #expect(KernelHelper.csumDiff.prototype.arguments == [.pointer(readOnly: true), .size, .pointer(readOnly: true), .size, .scalar(bits: 32)])
    }
}
