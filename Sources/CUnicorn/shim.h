// CUnicorn: the Unicorn CPU emulator (libunicorn-dev 2.x) for BPFEmulator.
//
// Swift cannot call C variadic functions, and Unicorn's uc_hook_add and
// uc_ctl are variadic. These wrappers give each use a fixed, typed signature.
// The one piece of policy here is the code hook: it runs before every
// emulated instruction, so it is written in C (a Swift callback per
// instruction would cost several times more); only trampoline slots, where
// helper calls happen, call back into Swift.
#ifndef BPFKIT_CUNICORN_SHIM_H
#define BPFKIT_CUNICORN_SHIM_H

#include <stdbool.h>
#include <stdint.h>
#include <unicorn/unicorn.h>

static inline uc_err bpfkit_uc_set_cpu_model(uc_engine *uc, int model) {
    return uc_ctl(uc, UC_CTL_WRITE(UC_CTL_CPU_MODEL, 1), model);
}

/// Drops translated code for [begin, end): a new image now lives there.
static inline uc_err bpfkit_uc_remove_cache(uc_engine *uc, uint64_t begin, uint64_t end) {
    return uc_ctl(uc, UC_CTL_WRITE(UC_CTL_TB_REMOVE_CACHE, 2), begin, end);
}

static inline uc_err bpfkit_uc_hook_memory_invalid(uc_engine *uc, uc_hook *hook, uc_cb_eventmem_t callback,
                                                   void *user_data) {
    return uc_hook_add(uc, hook, UC_HOOK_MEM_INVALID, (void *)callback, user_data, 1, 0);
}

static inline uc_err bpfkit_uc_hook_interrupt(uc_engine *uc, uc_hook *hook, uc_cb_hookintr_t callback,
                                              void *user_data) {
    return uc_hook_add(uc, hook, UC_HOOK_INTR, (void *)callback, user_data, 1, 0);
}

static inline uc_err bpfkit_uc_hook_invalid_instruction(uc_engine *uc, uc_hook *hook,
                                                        uc_cb_hookinsn_invalid_t callback, void *user_data) {
    return uc_hook_add(uc, hook, UC_HOOK_INSN_INVALID, (void *)callback, user_data, 1, 0);
}

/// Handles an instruction in the trampoline area: a helper or runtime call.
typedef void (*bpfkit_trampoline_handler)(uint64_t address, void *context);

/// The one code hook's state, shared between Swift and C: per-run
/// instruction accounting, and where calls to the trampolines go.
///
/// A single hook serves both because Unicorn calls code hooks through a
/// dispatcher that walks every code hook for every hooked instruction: two
/// hooks with disjoint ranges cost three times one (8.8 against 2.9 ns per
/// instruction on arm64), even though the second never fires in the image.
typedef struct bpfkit_instruction_counter {
    /// Instructions executed so far in this run (trampolines excluded).
    uint64_t executed;
    /// Budget: the hook stops the run before instruction `limit + 1`.
    uint64_t limit;
    /// Address of the last instruction about to execute; where a fault
    /// happened. (Unicorn's own PC register is only exact at code hooks.)
    uint64_t last_address;
    /// The instruction before it: the jump that led to a trap.
    uint64_t previous_address;
    /// Set when the budget stopped the run.
    bool limit_reached;
    /// The trampoline area is [trampoline_begin, trampoline_begin + trampoline_size).
    uint64_t trampoline_begin;
    uint64_t trampoline_size;
    bpfkit_trampoline_handler trampoline_handler;
    void *trampoline_context;
} bpfkit_instruction_counter;

/// Runs before every emulated instruction: hands trampoline slots to their
/// handler; counts any other instruction, or stops the run before it
/// executes when the budget is spent.
static inline void bpfkit_on_instruction(uc_engine *uc, uint64_t address, uint32_t size, void *user_data) {
    (void)size;
    bpfkit_instruction_counter *counter = (bpfkit_instruction_counter *)user_data;
    if (address - counter->trampoline_begin < counter->trampoline_size) {
        counter->trampoline_handler(address, counter->trampoline_context);
        return;
    }
    counter->previous_address = counter->last_address;
    counter->last_address = address;
    if (counter->executed >= counter->limit) {
        counter->limit_reached = true;
        uc_emu_stop(uc);
        return;
    }
    counter->executed += 1;
}

/// Installs `bpfkit_on_instruction` over every address.
static inline uc_err bpfkit_uc_hook_instructions(uc_engine *uc, uc_hook *hook, bpfkit_instruction_counter *counter) {
    return uc_hook_add(uc, hook, UC_HOOK_CODE, (void *)bpfkit_on_instruction, counter, 1, 0);
}

#endif
