/// One engine set up to be sampled: what setting up learned (the first
/// result, compile time, code size) and how to take one more sample.
struct BenchSampler {
    var outcome: EngineOutcome
    let runsPerSample: Int
    /// One sample: nanoseconds per run, and the return value of its runs.
    let take: () throws -> (nanoseconds: Double, result: UInt32)
    /// Called once sampling is over (the kernel's pins are removed here).
    var finish: () -> Void = {}
}

/// What setting an engine up for one program gave: a sampler, or the final
/// outcome (failed, unavailable, or not timed, like the emulated JITs).
enum BenchSetup {
    case ready(BenchSampler)
    case done(EngineOutcome)
}

/// Sampling in rounds: one sample of every engine per round, the engine
/// that goes first rotating, rather than all of one engine's samples and
/// then the next engine's. On a machine whose speed drifts (a shared host,
/// frequency changes) a slow spell then lands on every engine alike instead
/// of on whichever engine it happened to catch, so the ratios between
/// engines, which are what the goals judge, stay put.
enum BenchRounds {
    static func measure(_ setups: [(key: String, setup: BenchSetup)], samples: Int) -> [String: EngineOutcome] {
        var outcomes: [String: EngineOutcome] = [:]
        var active: [(key: String, sampler: BenchSampler, values: [Double])] = []
        for (key, setup) in setups {
            switch setup {
            case .done(let outcome): outcomes[key] = outcome
            case .ready(let sampler): active.append((key, sampler, []))
            }
        }
        var failed: [String: String] = [:]
        for round in 0..<max(samples, 1) where !active.isEmpty {
            for step in active.indices {
                let i = (round + step) % active.count
                guard failed[active[i].key] == nil else { continue }
                do {
                    let sample = try active[i].sampler.take()
                    if let expected = active[i].sampler.outcome.result, sample.result != expected {
                        failed[active[i].key] = "MISMATCH: a later run returned \(sample.result), the first \(expected)"
                        continue
                    }
                    active[i].values.append(sample.nanoseconds)
                } catch {
                    failed[active[i].key] = "run: \(error)"
                }
            }
        }
        for entry in active {
            entry.sampler.finish()
            if let note = failed[entry.key] {
                outcomes[entry.key] = .failed(note)
                continue
            }
            var outcome = entry.sampler.outcome
            outcome.samples = Samples(entry.values, runsPerSample: entry.sampler.runsPerSample)
            outcomes[entry.key] = outcome
        }
        return outcomes
    }

    /// One engine alone (the kernel probe, the interpreter's reference figure).
    static func measure(_ setup: BenchSetup, samples: Int) -> EngineOutcome {
        measure([(key: "", setup: setup)], samples: samples)[""]!
    }
}
