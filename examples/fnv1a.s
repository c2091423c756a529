# FNV-1a, 64-bit, over the input memory.
# On entry r1 points to the input and r2 holds its length; r0 returns the hash.
lddw %r0, 0xcbf29ce484222325    # FNV offset basis
lddw %r3, 0x100000001b3         # FNV prime
mov %r4, %r1
add %r4, %r2                    # r4 = one past the last byte
loop:
jge %r1, %r4, done
ldxb %r5, [%r1+0]
xor %r0, %r5
mul %r0, %r3
add %r1, 1
ja loop
done:
exit
