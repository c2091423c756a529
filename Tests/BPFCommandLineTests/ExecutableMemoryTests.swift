import BPFCommandTestSupport
import Foundation
import Testing

/// While `bpfkit` runs JITed programs, its memory map — read from
/// outside the process — never shows a mapping both writable and executable,
/// and the JIT image lives in the pack's read+execute view.
@Suite struct ExecutableMemoryTests {
    @Test(.enabled(if: isX86_64, "the native JIT exists for x86-64 hosts"))
    func mapsReadFromOutsideShowNoWritableExecutableMapping() throws {
        // Ten thousand iterations per run, many runs: a couple of seconds of JITed code.
        let program = try temporaryFile("spin.s", text: """
            mov %r0, 0
            mov %r2, 10000
            loop:
            add %r0, 3
            sub %r2, 1
            jne %r2, 0, loop
            exit
            """)
        let process = Process()
        process.executableURL = Paths.bpfkit
        process.arguments = ["run", program, "--engine", "jit", "--repeat", "400000"]
        process.standardOutput = Pipe()
        process.standardError = Pipe()
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        // Watch until the image has been seen for a while: how long the
        // process takes to get there depends on the build (a sanitizer's is
        // several times slower) and on the machine's load.
        var samples = 0, samplesWithView = 0, sawPackView = false
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && samplesWithView < 200 && Date() < deadline {
            guard let maps = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/maps", encoding: .utf8) else { break }
            for line in maps.split(separator: "\n") {
                let perms = line.split(separator: " ")[1]
                #expect(!(perms.contains("w") && perms.contains("x")), "writable and executable: \(line)")
                if line.contains("bpfkit-jit") && perms.hasPrefix("r-x") { sawPackView = true }
            }
            samples += 1
            if sawPackView { samplesWithView += 1 }
            usleep(5_000)
        }
        #expect(samples >= 10, "bpfkit ended before its memory could be watched")
        #expect(sawPackView, "the JIT image's read+execute view never appeared")
    }
}

let isX86_64: Bool = {
    #if arch(x86_64)
    return true
    #else
    return false
    #endif
}()
