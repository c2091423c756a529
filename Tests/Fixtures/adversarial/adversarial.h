/*
 * Shared macros for the adversarial corpus: programs written the way the
 * kernel's verifier selftests write them (naked functions of inline BPF
 * assembly, so that clang emits exactly the instructions an attacker chose).
 *
 * Every file names its class and its expectations in `// @` lines that the
 * runner (Tests/BPFAdversarialTests) reads:
 *   @class NAME        the attack class (see docs/SECURITY.md)
 *   @inputs A B ...    packets to run on: SIZE or SIZE:HEX (HEX overrides the
 *                      first bytes; the rest is a fixed pattern)
 *   @runs N            runs per packet (default 1), maps persisting between runs
 *   @readonly MAP ...  maps whose contents no run on any engine may change
 *   @forbid-r0 V       no engine may return V (a result only a hole produces)
 *   @cpu v4            -mcpu for clang (default v3)
 *   @max-verify-seconds S   verification must end within S seconds (default
 *                      5; six times that in a debug build)
 *   @refused WORDS     the load must be refused, with WORDS in the error
 *   @type mem          the program type (default: the section's; xdp for assembly)
 *   @over-maximum N ...   input lengths over the program's maximum (mem): its
 *                      own run must refuse each, and every engine must refuse
 *                      each at its entry when the run was built elsewhere
 *   @leak              the program may hand the host an address: results are
 *                      compared as value-or-error only (an unprivileged load
 *                      must refuse it)
 * The program run is the one named `attack`. The contract for every entry:
 * on every engine the runs end exactly as on the interpreter (same r0 and
 * packet, or an error on both), or the program is refused at load.
 */
#ifndef BPFKIT_ADVERSARIAL_H
#define BPFKIT_ADVERSARIAL_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define __naked __attribute__((naked))
/* A subprogram in .text, called with `call NAME`. */
#define __subprog static __attribute__((naked, noinline, used))
#define __imm(name) [name] "i"(name)
#define __imm_const(name, expr) [name] "i"(expr)
#define __imm_addr(name) [name] "i"(&name)
#define __clobber_all "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "memory"

/* r2 = data, r3 = data_end of the XDP context in r1. */
#define LOAD_PACKET "r2 = *(u32 *)(r1 + 0); r3 = *(u32 *)(r1 + 4);"

char _license[] SEC("license") = "GPL";

#endif
