# @class jump-across-functions
# @type xdp
# @inputs 64
# A callee jumps back into its caller's body instead of returning: the
# caller's code then runs in the callee's frame (r10, saved registers).
# Refused at load by the kernel; every engine must end as the interpreter
# does, or the load must be refused.
mov %r6, 7
mov %r7, 8
call local callee
back:
mov %r0, %r6
add %r0, %r7
stxdw [%r10-8], %r0
ldxdw %r0, [%r10-8]
exit
callee:
mov %r6, 100
mov %r7, 200
stxdw [%r10-16], %r7
ja back
