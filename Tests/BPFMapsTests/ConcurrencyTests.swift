import Foundation
import Testing
@testable import BPFMaps

@Suite struct MapConcurrencyTests {
    /// Several threads insert, read (through the returned address) and delete keys in one hash map; totals must add up and nothing may crash.
    @Test func concurrentUpdatesKeepTheMapConsistent() throws {
        let m = try map(.hash, max: 64)
        let threads = 4, rounds = 20_000
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for i in 0..<rounds {
                let key = le32(UInt32(i % 32))
                _ = m.pUpdate(key, le64(0), UpdateFlags.noExist.rawValue)
                let address = m.pLookup(key)
                // Reading a value another thread may be deleting: stale but valid bytes.
                if address != 0 { _ = peek64(address) }
                if (i + t) % 97 == 0 { _ = m.pDelete(le32(UInt32((i + 7) % 32))) }
                let private_ = le32(UInt32(1000 + t))
                _ = m.pUpdate(private_, le64(UInt64(i)))
            }
        }
        for t in 0..<threads {
            #expect(try m.lookup(key: le32(UInt32(1000 + t))) == le64(UInt64(rounds - 1)))
        }
        #expect(m.keys().count <= 64)
    }

    @Test func concurrentLRUChurn() throws {
        let m = try map(.lruHash, max: 16)
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            for i in 0..<20_000 {
                _ = m.pUpdate(le32(UInt32(i &* 2_654_435_761 % 1000)), le64(UInt64(t)))
                _ = m.pLookup(le32(UInt32(i % 1000)))
            }
        }
        #expect(m.keys().count == 16)
    }

    @Test func concurrentRingBufferProducers() throws {
        let rb = try #require(try makeMap(MapDefinition(name: "rb", type: .ringBuffer, keySize: 0, valueSize: 0, maxEntries: 1 << 16)) as? RingBuffer)
        let producers = 3, perProducer = 2_000
        let consumed = Locked([Int](repeating: 0, count: producers))
        let done = Locked(0)
        let consumer = Thread {
            while true {
                let finished = done.value == producers
                rb.drain { record in consumed.mutate { $0[Int(record[0])] += 1 } }
                if finished { break }
            }
        }
        consumer.start()
        DispatchQueue.concurrentPerform(iterations: producers) { p in
            var sent = 0
            while sent < perProducer {
                let bytes: [UInt8] = [UInt8(p)] + Array(repeating: 0, count: sent % 40)
                do { try bytes.withUnsafeBytes { try rb.output($0) }; sent += 1 } catch {}
            }
            done.mutate { $0 += 1 }
        }
        while !consumer.isFinished { usleep(1000) }
        #expect(consumed.value == Array(repeating: perProducer, count: producers))
    }
}

final class Locked<T>: @unchecked Sendable {
    private let lock = Lock()
    private var _value: T
    init(_ value: T) { _value = value }
    var value: T { lock.withLock { _value } }
    func mutate(_ body: (inout T) -> Void) { lock.withLock { body(&_value) } }
}
