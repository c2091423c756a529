# @class jump-across-functions
# @type xdp
# @inputs 64
# One function jumps into the body of another, past its entry. The second
# function's exit then ends a frame it never built: on a JIT its epilogue
# restores registers the first never saved and returns through whatever lies
# there (here the caller's r7). The kernel refuses such programs at load
# ("jump out of range"); every engine must end as the interpreter does, or
# the load must be refused.
mov %r6, 1
lddw %r7, 0x41414141
mov %r8, 3
mov %r9, 4
call local first
mov %r6, %r0
call local second
add %r0, %r6
exit
first:
mov %r0, 10
ja inside
second:
mov %r6, 20
mov %r7, 21
mov %r8, 22
mov %r9, 23
mov %r0, %r6
inside:
add %r0, 1
exit
