/// `bpf_trace_printk`'s format language: the kernel's subset of printf, with
/// the kernel's checks (`bpf_bprintf_prepare`): at most three arguments,
/// only `%d %i %u %x %X %c %s %p %px %pK %%` with optional `l`/`ll` and a
/// `[0 +-][width]` field, and only printable ASCII. Anything else is EINVAL.
public enum TraceFormat {
    public static let maxArguments = 3
    /// Longest string `%s` copies (the kernel bounds it by its buffer, 512 bytes).
    public static let maxStringLength = 512

    /// Formats `format` (without its NUL) with `arguments`; `readString` reads a
    /// `%s` argument's bytes. Returns nil where the kernel returns -EINVAL.
    public static func format(_ format: [UInt8], arguments: [UInt64], readString: (UInt64) -> [UInt8]) -> String? {
        var out = ""
        var used = 0
        var i = 0
        func at(_ k: Int) -> UInt8 { k < format.count ? format[k] : 0 }
        while i < format.count {
            let c = format[i]
            guard c < 0x80, c >= 0x20 || c == 0x09 || c == 0x0a || c == 0x0d || c == 0x0b || c == 0x0c else { return nil }
            guard c == UInt8(ascii: "%") else { out.unicodeScalars.append(Unicode.Scalar(c)); i += 1; continue }
            if at(i + 1) == UInt8(ascii: "%") { out += "%"; i += 2; continue }
            guard used < min(maxArguments, arguments.count) else { return nil }
            i += 1
            var leftAlign = false, zeroPad = false, plus = false, space = false
            while true {
                switch at(i) {
                case UInt8(ascii: "-"): leftAlign = true
                case UInt8(ascii: "0"): zeroPad = true
                case UInt8(ascii: "+"): plus = true
                case UInt8(ascii: " "): space = true
                default: break
                }
                if [UInt8(ascii: "-"), UInt8(ascii: "0"), UInt8(ascii: "+"), UInt8(ascii: " ")].contains(at(i)) { i += 1 } else { break }
            }
            var width = 0
            while (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(at(i)) {
                width = min(width * 10 + Int(at(i) - UInt8(ascii: "0")), 1000)
                i += 1
            }
            let argument = arguments[used]
            used += 1
            var text: String
            var numeric = true
            switch at(i) {
            case UInt8(ascii: "c"):
                text = String(UnicodeScalar(UInt8(truncatingIfNeeded: argument)))
                numeric = false
                i += 1
            case UInt8(ascii: "s"):
                text = String(decoding: readString(argument).prefix(maxStringLength), as: UTF8.self)
                numeric = false
                i += 1
            case UInt8(ascii: "p"):
                let next = at(i + 1)
                if next == UInt8(ascii: "x") || next == UInt8(ascii: "K") {
                    i += 2
                } else if next == 0 || next == 0x20 || next == 0x0a || next == 0x09 || isPunctuation(next) {
                    i += 1
                } else {
                    return nil
                }
                text = "0x" + String(argument, radix: 16)
                zeroPad = false
            default:
                var longs = 0
                while at(i) == UInt8(ascii: "l"), longs < 2 { longs += 1; i += 1 }
                let conversion = at(i)
                i += 1
                let value = longs == 0 ? UInt64(UInt32(truncatingIfNeeded: argument)) : argument
                switch conversion {
                case UInt8(ascii: "d"), UInt8(ascii: "i"):
                    let signed = longs == 0 ? Int64(Int32(truncatingIfNeeded: argument)) : Int64(bitPattern: argument)
                    text = String(signed)
                    if signed >= 0, plus { text = "+" + text } else if signed >= 0, space { text = " " + text }
                case UInt8(ascii: "u"): text = String(value)
                case UInt8(ascii: "x"): text = String(value, radix: 16)
                case UInt8(ascii: "X"): text = String(value, radix: 16, uppercase: true)
                default: return nil
                }
            }
            out += pad(text, width: width, left: leftAlign, zero: zeroPad && numeric && !leftAlign)
        }
        return out
    }

    private static func isPunctuation(_ c: UInt8) -> Bool {
        (0x21...0x2f).contains(c) || (0x3a...0x40).contains(c) || (0x5b...0x60).contains(c) || (0x7b...0x7e).contains(c)
    }

    private static func pad(_ text: String, width: Int, left: Bool, zero: Bool) -> String {
        let missing = width - text.count
        guard missing > 0 else { return text }
        if left { return text + String(repeating: " ", count: missing) }
        if zero {
            // Zeros go after a sign.
            if let first = text.first, first == "-" || first == "+" || first == " " {
                return String(first) + String(repeating: "0", count: missing) + text.dropFirst()
            }
            return String(repeating: "0", count: missing) + text
        }
        return String(repeating: " ", count: missing) + text
    }
}
