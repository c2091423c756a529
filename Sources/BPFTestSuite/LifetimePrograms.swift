/// Programs (assembly text) for the tests of what a run holds: map writes,
/// stale map-value pointers, ring-buffer reservations. Map 0 is the map under test.
public enum LifetimePrograms {
    /// `bpf_map_update_elem` (helper 2) or `bpf_map_delete_elem` (3) of key 0
    /// (value 0x41) on map `map`; r0 is the helper's result.
    public static func mapWrite(map: Int, helper: Int) -> String {
        """
        stw [%r10-4], 0
        stdw [%r10-16], 0x41
        lddw %r1, map_idx \(map)
        mov %r2, %r10
        add %r2, -4
        mov %r3, %r10
        add %r3, -16
        mov %r4, 0
        call \(helper)
        exit
        """
    }

    /// With a hash map of max_entries 1 holding key 1: looks up key 1,
    /// deletes it, then 72 times adds key 2 (value i), stores 0xdead
    /// through the stale pointer, checks key 2's value and deletes key 2
    /// (more rounds than the map has spare elements, so an allocation
    /// window of any size up to that would be caught too).
    /// Returns 222, or 0xdead when a stale store landed in key 2's value.
    public static let stalePointer: String = {
        var text = """
            stw [%r10-4], 1
            lddw %r1, map_idx 0
            mov %r2, %r10
            add %r2, -4
            call 1
            jne %r0, 0, held
            mov %r0, 1
            exit
            held:
            mov %r6, %r0
            lddw %r1, map_idx 0
            mov %r2, %r10
            add %r2, -4
            call 3

            """
        for i in 1...72 {
            text += """
                stw [%r10-8], 2
                stdw [%r10-16], \(i)
                lddw %r1, map_idx 0
                mov %r2, %r10
                add %r2, -8
                mov %r3, %r10
                add %r3, -16
                mov %r4, 0
                call 2
                stdw [%r6+0], 0xdead
                lddw %r1, map_idx 0
                mov %r2, %r10
                add %r2, -8
                call 1
                jeq %r0, 0, next\(i)
                ldxdw %r1, [%r0+0]
                jeq %r1, \(i), next\(i)
                mov %r0, 0xdead
                exit
                next\(i):
                lddw %r1, map_idx 0
                mov %r2, %r10
                add %r2, -8
                call 3

                """
        }
        return text + "mov %r0, 222\nexit\n"
    }()

    /// Looks up key 1, holds the pointer across 32 `bpf_ktime_get_ns`
    /// calls, then stores 0xbad through it; r0 = 1 if it held one, else 0.
    public static let holdAcrossCalls = """
        stw [%r10-4], 1
        lddw %r1, map_idx 0
        mov %r2, %r10
        add %r2, -4
        call 1
        jne %r0, 0, held
        mov %r0, 0
        exit
        held:
        mov %r6, %r0
        \(Array(repeating: "call 5", count: 32).joined(separator: "\n"))
        stdw [%r6+0], 0xbad
        mov %r0, 1
        exit
        """

    /// Reserves 8 bytes of ring buffer 0 and never submits them; r0 = 1 if the reserve succeeded.
    public static let reserveAndLeave = """
        lddw %r1, map_idx 0
        mov %r2, 8
        mov %r3, 0
        call 131
        jeq %r0, 0, fail
        stdw [%r0+0], 1
        mov %r0, 1
        exit
        fail:
        mov %r0, 0
        exit
        """

    /// Reserves 8 bytes of ring buffer 0, writes 77 and submits; r0 = 1 if the reserve succeeded.
    public static let reserveAndSubmit = """
        lddw %r1, map_idx 0
        mov %r2, 8
        mov %r3, 0
        call 131
        jeq %r0, 0, fail
        stdw [%r0+0], 77
        mov %r1, %r0
        mov %r2, 0
        call 132
        mov %r0, 1
        exit
        fail:
        mov %r0, 0
        exit
        """
}
