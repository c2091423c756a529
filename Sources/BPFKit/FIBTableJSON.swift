import Foundation
import BPFHelpers

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension FIBTable {
    /// Reads the JSON form `bpfkit run --fib FILE` takes:
    ///
    /// ```json
    /// {"interfaces": [{"ifindex": 2, "mac": "02:00:00:00:00:02", "mtu": 1500, "forwarding": true}],
    ///  "routes": [{"prefix": "10.0.0.0/8", "ifindex": 2, "gateway": "192.0.2.1", "type": "unicast",
    ///              "metric": 0, "mtu": 1400, "table": 254, "source": "192.0.2.2"}],
    ///  "neighbours": [{"ifindex": 2, "address": "192.0.2.1", "mac": "aa:bb:cc:dd:ee:ff"}]}
    /// ```
    ///
    /// Only `ifindex` and `mac` (interfaces), `prefix` and `ifindex` (routes)
    /// and every neighbour field are required; `mtu` defaults to 1500 (the
    /// interface's for routes), `forwarding` to true (`forwarding_ipv6`
    /// overrides it for IPv6), `type` to unicast (also blackhole,
    /// unreachable, prohibit, local), `metric` to 0, `table` to 254 (main).
    public init(json data: Data) throws(FIBTableError) {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw FIBTableError("not a JSON object with \"interfaces\", \"routes\" and \"neighbours\"")
        }
        for key in root.keys where !["interfaces", "routes", "neighbours"].contains(key) {
            throw FIBTableError("unknown member \"\(key)\" (expected interfaces, routes, neighbours)")
        }
        func list(_ key: String) throws(FIBTableError) -> [[String: Any]] {
            guard let value = root[key] else { return [] }
            guard let entries = value as? [[String: Any]] else { throw FIBTableError("\"\(key)\" must be a list of objects") }
            return entries
        }
        func integer(_ entry: [String: Any], _ key: String, _ what: String, default value: Int? = nil) throws(FIBTableError) -> Int {
            guard let raw = entry[key] else {
                if let value { return value }
                throw FIBTableError("\(what): missing \"\(key)\"")
            }
            guard let number = raw as? NSNumber, let int = Int(exactly: number.doubleValue),
                  int >= 0, int <= Int(UInt32.max) else {
                throw FIBTableError("\(what): \"\(key)\" must be a non-negative integer")
            }
            return int
        }
        func string(_ entry: [String: Any], _ key: String, _ what: String) throws(FIBTableError) -> String? {
            guard let raw = entry[key] else { return nil }
            guard let text = raw as? String else { throw FIBTableError("\(what): \"\(key)\" must be a string") }
            return text
        }
        func flag(_ entry: [String: Any], _ key: String, _ what: String) throws(FIBTableError) -> Bool? {
            guard let raw = entry[key] else { return nil }
            guard let value = raw as? Bool else { throw FIBTableError("\(what): \"\(key)\" must be true or false") }
            return value
        }
        func mac(_ entry: [String: Any], _ what: String) throws(FIBTableError) -> [UInt8] {
            guard let text = try string(entry, "mac", what) else { throw FIBTableError("\(what): missing \"mac\"") }
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            let bytes = parts.compactMap { $0.count == 2 ? UInt8($0, radix: 16) : nil }
            guard parts.count == 6, bytes.count == 6 else { throw FIBTableError("\(what): mac \"\(text)\" is not six hex bytes like 02:00:00:00:00:01") }
            return bytes
        }
        func address(_ text: String, _ what: String) throws(FIBTableError) -> [UInt8] {
            guard let bytes = Self.parseAddress(text) else { throw FIBTableError("\(what): \"\(text)\" is not an IPv4 or IPv6 address") }
            return bytes
        }

        var interfaces: [Interface] = []
        for (i, entry) in try list("interfaces").enumerated() {
            let what = "interfaces[\(i)]"
            let forwarding = try flag(entry, "forwarding", what) ?? true
            interfaces.append(Interface(ifindex: UInt32(try integer(entry, "ifindex", what)), mac: try mac(entry, what),
                                        mtu: try integer(entry, "mtu", what, default: 1500), forwardsIPv4: forwarding,
                                        forwardsIPv6: try flag(entry, "forwarding_ipv6", what) ?? forwarding))
        }
        var routes: [Route] = []
        for (i, entry) in try list("routes").enumerated() {
            let what = "routes[\(i)]"
            guard let prefix = try string(entry, "prefix", what) else { throw FIBTableError("\(what): missing \"prefix\"") }
            let parts = prefix.split(separator: "/", omittingEmptySubsequences: false)
            let destination = try address(String(parts[0]), what)
            let length: Int
            if parts.count == 1 {
                length = destination.count * 8
            } else if parts.count == 2, let value = Int(parts[1]), (0...destination.count * 8).contains(value) {
                length = value
            } else {
                throw FIBTableError("\(what): prefix \"\(prefix)\" is not ADDRESS/LENGTH")
            }
            var type = RouteType.unicast
            if let name = try string(entry, "type", what) {
                guard let parsed = RouteType(rawValue: name) else {
                    throw FIBTableError("\(what): type \"\(name)\" (expected \(RouteType.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                type = parsed
            }
            let gateway = try string(entry, "gateway", what).map { (text) throws(FIBTableError) in try address(text, what) }
            let source = try string(entry, "source", what).map { (text) throws(FIBTableError) in try address(text, what) }
            routes.append(Route(destination: destination, prefixLength: length, ifindex: UInt32(try integer(entry, "ifindex", what, default: 0)),
                                gateway: gateway, type: type, metric: UInt32(try integer(entry, "metric", what, default: 0)),
                                mtu: entry["mtu"] == nil ? nil : try integer(entry, "mtu", what),
                                table: UInt32(try integer(entry, "table", what, default: Int(FIBTable.mainTable))), source: source))
        }
        var neighbours: [Neighbour] = []
        for (i, entry) in try list("neighbours").enumerated() {
            let what = "neighbours[\(i)]"
            guard let text = try string(entry, "address", what) else { throw FIBTableError("\(what): missing \"address\"") }
            neighbours.append(Neighbour(ifindex: UInt32(try integer(entry, "ifindex", what)), address: try address(text, what),
                                        mac: try mac(entry, what)))
        }
        self.init(interfaces: interfaces, routes: routes, neighbours: neighbours)
        try validate()
    }

    /// An IPv4 (4 bytes) or IPv6 (16 bytes) address in network order, or nil.
    public static func parseAddress(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
