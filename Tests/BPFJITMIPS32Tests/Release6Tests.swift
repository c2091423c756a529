import BPFBackendTestKit
import BPFConformance
import BPFInterpreter
import BPFISA
import BPFJIT
import BPFJITMIPS32
import BPFKit
import BPFRuntime
import BPFTestSuite
import Foundation
import Testing

/// MIPS32 Release 6 (`MIPS32Options.release6`, run on Unicorn's
/// mips32r6-generic): the re-encoded forms against `llvm-mc
/// -mcpu=mips32r6`, and the corpus and generated suite against the
/// interpreter of the same byte order.
@Suite struct Release6Tests {
    static func options(bigEndian: Bool) -> MIPS32Options { MIPS32Options(bigEndian: bigEndian, release6: true) }

    @Test(arguments: [false, true]) func release6FormsMatchLLVM(bigEndian: Bool) throws {
        let c = GoldenEncodingTests.Collector(bigEndian: bigEndian, release6: true)
        typealias Three = (MIPS32Encoder) -> (MIPS32Register, MIPS32Register, MIPS32Register) -> Void
        let three: [(String, Three)] = [
            ("mul", { $0.mul }), ("mulu", { $0.mulu }), ("muhu", { $0.muhu }), ("div", { $0.div }), ("mod", { $0.mod }),
            ("divu", { $0.divu }), ("modu", { $0.modu }), ("seleqz", { $0.seleqz }), ("selnez", { $0.selnez }),
            ("addu", { $0.addu }), ("sltu", { $0.sltu }),
        ]
        for (name, op) in three {
            for (d, s, t) in [(MIPS32Register.v0, MIPS32Register.a1, MIPS32Register.t6), (.s7, .at, .zero), (.t6, .t6, .s3)] {
                c.add("\(name) \(d), \(s), \(t)") { op($0)(d, s, t) }
            }
        }
        for (t, base, offset) in [(MIPS32Register.t6, MIPS32Register.t7, Int16(0)), (.t8, .a0, 4), (.v0, .sp, -256), (.s1, .fp, 255)] {
            c.add("ll \(t), \(offset)(\(base))") { $0.ll(t, offset, base) }
            c.add("sc \(t), \(offset)(\(base))") { $0.sc(t, offset, base) }
            c.add("lw \(t), \(offset)(\(base))") { $0.lw(t, offset, base) }
        }
        c.add("jr $ra\nnop") { $0.jr(.ra) }
        c.add("jalr $t9\nnop") { $0.jalr(.t9) }
        c.add("wsbh $t6, $a0") { $0.wsbh(.t6, .a0) }
        c.add("rotr $t6, $a0, 16") { $0.rotr(.t6, .a0, 16) }
        c.add("seb $t6, $a0") { $0.seb(.t6, .a0) }
        c.add("bal 8\nnop\nnop") { e in
            let label = e.asm.makeLabel()
            e.bal(label)
            e.nop()
            e.asm.bind(label)
        }
        let forms = c.collect()
        let (lines, failures) = try GoldenEncodingTests.llvm(bigEndian: bigEndian, cpu: "mips32r6").check(forms)
        print("MIPS32 Release 6 golden encodings (\(bigEndian ? "mips" : "mipsel")): \(forms.count) forms (\(lines) instructions), \(failures.count) mismatches")
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    @Test(arguments: [false, true]) func corpusAndSuiteMatchTheInterpreter(bigEndian: Bool) throws {
        let engine = MIPS32JIT(options: Self.options(bigEndian: bigEndian))
        let interpreter = Interpreter(byteOrder: bigEndian ? .big : .little)
        var failures: [String] = [], count = 0
        let directory = BackendMatrix.fixtures.appendingPathComponent("conformance/tests").path
        for name in try FileManager.default.contentsOfDirectory(atPath: directory).filter({ $0.hasSuffix(".data") }).sorted() {
            let file = try ConformanceFile(path: directory + "/" + name)
            guard let program = try? file.program() else { continue }
            count += 1
            let jit = outcome(program, memory: file.memory, on: engine, helpers: ConformanceRunner.helpers)
            let reference = outcome(program, memory: file.memory, on: interpreter, helpers: ConformanceRunner.helpers)
            if SafetyChecks.withoutAddress(jit) != SafetyChecks.withoutAddress(reference) { failures.append("\(name): jit \(jit), interpreter \(reference)") }
        }
        for (category, cases) in GeneratedSuite.categories() {
            for testCase in cases {
                count += 1
                let jit = outcome(testCase.program, memory: testCase.memory, on: engine, limit: 10_000)
                let reference = outcome(testCase.program, memory: testCase.memory, on: interpreter, limit: 10_000)
                if jit != reference { failures.append("\(category) \(testCase.name): jit \(jit), interpreter \(reference)") }
            }
        }
        print("MIPS32 Release 6 (\(bigEndian ? "big" : "little") endian): \(count - failures.count)/\(count) equal to the interpreter")
        #expect(count > 20_000)
        #expect(failures.isEmpty, "\(failures.count) failures:\n\(failures.prefix(10).joined(separator: "\n"))")
    }
}
