import BPFISA

/// Where an image goes.
public enum ImagePlacement {
    /// Allocate from executable memory once the size is known, and copy in.
    case memory(any CodeMemory)
    /// Assemble for this address without placing it anywhere (dumps, cross-compilation).
    case address(UInt)
}

/// The pass driver shared by every backend.
///
/// 1. Sizing passes with the image address unknown: address-dependent
///    sequences take their longest form, branches start short and grow
///    where they must (see `JITAssembler`), until a pass places every label
///    where the one before did and no branch changed its form, or, for code
///    that step 3 compiles again anyway, until a pass forces no branch long
///    (usually the first: seed 000's single sizing pass). After
///    `paddingFromPass` passes, unknown distances are taken as long and code
///    that shrank is padded back to its previous length, so that the layout
///    must converge (the kernel pads after pass 15 of 20); more than
///    `maxPasses` is an error.
/// 2. Allocation: the converged size is reserved in executable memory, which
///    fixes the final address.
/// 3. Passes at the real address, where backends pick direct calls that now
///    reach; they repeat until the layout is stable again. The writing pass is
///    the one whose layout matches the pass before it label for label and to
///    the byte in size: that agreement is checked, not assumed.
/// 4. The bytes are copied into place.
///
/// Code without address-dependent sequences is the same at every address,
/// so its converged sizing pass is the writing pass and step 3 is skipped.
///
/// For backends that declare `writesSelfConsistentPass`, "converged" is
/// weakened to "no short form failed to reach": such a pass resolved every
/// displacement against its own positions, so its bytes are complete, and
/// it is written without a pass that repeats it (x86-64: one pass for most
/// programs, two when a branch grows).
public enum JITDriver {
    public static let maxPasses = 20
    public static let paddingFromPass = 15

    @inlinable
    public static func compile<B: JITBackend>(_ program: Program, backend: inout B,
                                              placement: ImagePlacement) throws(JITError) -> (JITImage, CodeAllocation?) {
        let entries = program.jitFunctionEntries
        var functions: [JITFunctionInfo] = []
        functions.reserveCapacity(entries.count)
        for (k, entry) in entries.enumerated() {
            functions.append(JITFunctionInfo(index: k, entry: entry, end: k + 1 < entries.count ? entries[k + 1] : program.count))
        }
        let asm = JITAssembler<B.Branch>(instructionCount: program.count, functionCount: functions.count,
                                         capacityHint: program.count * 8 + 256, padder: { B.emitPadding($1, into: $0) })
        var address: UInt?
        var memory: (any CodeMemory)?
        switch placement {
        case .address(let fixed): address = fixed
        case .memory(let m): memory = m
        }
        var allocation: CodeAllocation?
        var capacity = 0
        var phasePass = 0
        var totalPasses = 0
        let instructions = program.instructions

        do throws(JITError) {
            while true {
                phasePass += 1
                totalPasses += 1
                guard phasePass <= maxPasses else { throw JITError.didNotConverge(passes: totalPasses - 1) }
                // A later pass at the same address, before the padding
                // passes: the backend may re-encode the last pass's branches
                // instead of lowering again.
                if phasePass == 1 || phasePass > paddingFromPass || !backend.replayPass(asm) {
                    asm.beginPass(address: address, capacity: capacity, padding: phasePass > paddingFromPass)
                    backend.beginPass(asm)
                    for function in functions {
                        asm.bind(asm.function(function.index))
                        backend.emitPrologue(function, asm)
                        var pc = function.entry
                        while pc < function.end {
                            asm.bind(asm.instruction(pc))
                            let instruction = instructions[pc]
                            if case .immediate64Tail = instruction {
                                pc += 1
                                continue
                            }
                            try backend.lower(instruction, at: pc, in: function, asm)
                            pc += 1
                        }
                        asm.bind(asm.epilogue(function.index))
                        backend.emitEpilogue(function, asm)
                    }
                    asm.bind(asm.instruction(program.count))
                    backend.emitTrailer(asm)
                    asm.bind(asm.makeLabel())
                }
                asm.resolveFixups()
                if let why = asm.code.poisoned { throw JITError.unencodable(why) }
                let stable = asm.converged()
                // Code with no address-dependent sequence (no calls into the
                // host) is position-independent: the converged pass is final.
                let positionIndependent = backend.statistics.directCalls + backend.statistics.indirectCalls == 0
                // Before the address is known, a pass of address-dependent code
                // only sizes the allocation, and the passes at the address check
                // their own agreement. A sizing pass that forced no branch long
                // is already the layout another pass would repeat (every short
                // form it chose reached), so its size is final: with fixed-width
                // code that is the first pass (seed 000: size, decide, write).
                let sized = address == nil && memory != nil && !positionIndependent && asm.grewNoBranch()
                // A pass in which every short form reached is self-consistent
                // (each displacement was resolved against this pass's own
                // positions): where nothing else depends on the address (or
                // the address is known), it is written as it stands, for
                // backends that say so; the others confirm it by one more pass.
                let final = B.writesSelfConsistentPass && (positionIndependent || address != nil) && asm.grewNoBranch()
                asm.finishPass()
                guard stable || sized || final else { continue }
                if address == nil, let memory, positionIndependent {
                    do throws(CodeMemoryError) {
                        allocation = try memory.allocate(size: asm.code.count, alignment: 16)
                    } catch {
                        throw JITError.memory(error)
                    }
                    address = allocation!.address
                    break
                }
                if address == nil, let memory {
                    capacity = asm.code.count
                    do throws(CodeMemoryError) {
                        allocation = try memory.allocate(size: capacity, alignment: 16)
                    } catch {
                        throw JITError.memory(error)
                    }
                    address = allocation!.address
                    phasePass = 0
                    continue
                }
                break
            }
            if let allocation, asm.code.count > allocation.size {
                throw JITError.imageOutgrewAllocation(size: asm.code.count, allocated: allocation.size)
            }
            let bytes = asm.code.bytes
            if let memory, let allocation {
                do throws(CodeMemoryError) {
                    try memory.copy(bytes, into: allocation)
                } catch {
                    throw JITError.memory(error)
                }
            }
            let layout = asm.layout()
            let image = JITImage(architecture: B.architecture, bytes: bytes, address: address!,
                                 instructionOffsets: layout.instructions, functionOffsets: layout.functions,
                                 epilogueOffsets: layout.epilogues, passes: totalPasses, statistics: backend.statistics,
                                 tailCallSites: backend.tailCallSites)
            return (image, allocation)
        } catch {
            if let memory, let allocation { memory.free(allocation) }
            throw error
        }
    }
}
