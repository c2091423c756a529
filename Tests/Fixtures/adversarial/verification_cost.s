# @class verification-cost
# @type xdp
# @inputs 64
# @max-verify-seconds 5
# Seven nested local calls, then, in the innermost function, a loop whose body
# holds 200 conditional branches on numbers the verifier cannot bound: each
# is a pruning point where every stored state of up to eight frames is
# compared. Verification must end (prove or give up) quickly; the run must
# end as on the interpreter.
ldxw %r2, [%r1+0]
ldxw %r3, [%r1+4]
mov %r6, %r2
add %r6, 8
mov %r0, 0
jgt %r6, %r3, out
ldxdw %r6, [%r2+0]
call local f1
out:
exit
f1:
mov %r0, %r6
add %r6, 1
call local f2
add %r0, %r6
exit
f2:
mov %r0, %r6
add %r6, 2
call local f3
add %r0, %r6
exit
f3:
mov %r0, %r6
add %r6, 3
call local f4
add %r0, %r6
exit
f4:
mov %r0, %r6
add %r6, 4
call local f5
add %r0, %r6
exit
f5:
mov %r0, %r6
add %r6, 5
call local f6
add %r0, %r6
exit
f6:
mov %r0, %r6
add %r6, 6
call local f7
add %r0, %r6
exit
f7:
mov %r0, 0
mov %r7, 0
loop:
jset %r6, 1, s0
add %r0, 0
s0:
xor %r6, 0
jset %r6, 2, s1
add %r0, 1
s1:
xor %r6, 7919
jset %r6, 4, s2
add %r0, 2
s2:
xor %r6, 15838
jset %r6, 8, s3
add %r0, 3
s3:
xor %r6, 23757
jset %r6, 16, s4
add %r0, 4
s4:
xor %r6, 31676
jset %r6, 32, s5
add %r0, 5
s5:
xor %r6, 39595
jset %r6, 64, s6
add %r0, 6
s6:
xor %r6, 47514
jset %r6, 128, s7
add %r0, 7
s7:
xor %r6, 55433
jset %r6, 256, s8
add %r0, 8
s8:
xor %r6, 63352
jset %r6, 512, s9
add %r0, 9
s9:
xor %r6, 5735
jset %r6, 1024, s10
add %r0, 10
s10:
xor %r6, 13654
jset %r6, 2048, s11
add %r0, 11
s11:
xor %r6, 21573
jset %r6, 4096, s12
add %r0, 12
s12:
xor %r6, 29492
jset %r6, 8192, s13
add %r0, 13
s13:
xor %r6, 37411
jset %r6, 16384, s14
add %r0, 14
s14:
xor %r6, 45330
jset %r6, 32768, s15
add %r0, 15
s15:
xor %r6, 53249
jset %r6, 65536, s16
add %r0, 16
s16:
xor %r6, 61168
jset %r6, 131072, s17
add %r0, 17
s17:
xor %r6, 3551
jset %r6, 262144, s18
add %r0, 18
s18:
xor %r6, 11470
jset %r6, 524288, s19
add %r0, 19
s19:
xor %r6, 19389
jset %r6, 1048576, s20
add %r0, 20
s20:
xor %r6, 27308
jset %r6, 2097152, s21
add %r0, 21
s21:
xor %r6, 35227
jset %r6, 4194304, s22
add %r0, 22
s22:
xor %r6, 43146
jset %r6, 8388608, s23
add %r0, 23
s23:
xor %r6, 51065
jset %r6, 16777216, s24
add %r0, 24
s24:
xor %r6, 58984
jset %r6, 33554432, s25
add %r0, 25
s25:
xor %r6, 1367
jset %r6, 67108864, s26
add %r0, 26
s26:
xor %r6, 9286
jset %r6, 134217728, s27
add %r0, 27
s27:
xor %r6, 17205
jset %r6, 268435456, s28
add %r0, 28
s28:
xor %r6, 25124
jset %r6, 536870912, s29
add %r0, 29
s29:
xor %r6, 33043
jset %r6, 1073741824, s30
add %r0, 30
s30:
xor %r6, 40962
jset %r6, 1, s31
add %r0, 31
s31:
xor %r6, 48881
jset %r6, 2, s32
add %r0, 32
s32:
xor %r6, 56800
jset %r6, 4, s33
add %r0, 33
s33:
xor %r6, 64719
jset %r6, 8, s34
add %r0, 34
s34:
xor %r6, 7102
jset %r6, 16, s35
add %r0, 35
s35:
xor %r6, 15021
jset %r6, 32, s36
add %r0, 36
s36:
xor %r6, 22940
jset %r6, 64, s37
add %r0, 37
s37:
xor %r6, 30859
jset %r6, 128, s38
add %r0, 38
s38:
xor %r6, 38778
jset %r6, 256, s39
add %r0, 39
s39:
xor %r6, 46697
jset %r6, 512, s40
add %r0, 40
s40:
xor %r6, 54616
jset %r6, 1024, s41
add %r0, 41
s41:
xor %r6, 62535
jset %r6, 2048, s42
add %r0, 42
s42:
xor %r6, 4918
jset %r6, 4096, s43
add %r0, 43
s43:
xor %r6, 12837
jset %r6, 8192, s44
add %r0, 44
s44:
xor %r6, 20756
jset %r6, 16384, s45
add %r0, 45
s45:
xor %r6, 28675
jset %r6, 32768, s46
add %r0, 46
s46:
xor %r6, 36594
jset %r6, 65536, s47
add %r0, 47
s47:
xor %r6, 44513
jset %r6, 131072, s48
add %r0, 48
s48:
xor %r6, 52432
jset %r6, 262144, s49
add %r0, 49
s49:
xor %r6, 60351
jset %r6, 524288, s50
add %r0, 50
s50:
xor %r6, 2734
jset %r6, 1048576, s51
add %r0, 51
s51:
xor %r6, 10653
jset %r6, 2097152, s52
add %r0, 52
s52:
xor %r6, 18572
jset %r6, 4194304, s53
add %r0, 53
s53:
xor %r6, 26491
jset %r6, 8388608, s54
add %r0, 54
s54:
xor %r6, 34410
jset %r6, 16777216, s55
add %r0, 55
s55:
xor %r6, 42329
jset %r6, 33554432, s56
add %r0, 56
s56:
xor %r6, 50248
jset %r6, 67108864, s57
add %r0, 57
s57:
xor %r6, 58167
jset %r6, 134217728, s58
add %r0, 58
s58:
xor %r6, 550
jset %r6, 268435456, s59
add %r0, 59
s59:
xor %r6, 8469
jset %r6, 536870912, s60
add %r0, 60
s60:
xor %r6, 16388
jset %r6, 1073741824, s61
add %r0, 61
s61:
xor %r6, 24307
jset %r6, 1, s62
add %r0, 62
s62:
xor %r6, 32226
jset %r6, 2, s63
add %r0, 63
s63:
xor %r6, 40145
jset %r6, 4, s64
add %r0, 64
s64:
xor %r6, 48064
jset %r6, 8, s65
add %r0, 65
s65:
xor %r6, 55983
jset %r6, 16, s66
add %r0, 66
s66:
xor %r6, 63902
jset %r6, 32, s67
add %r0, 67
s67:
xor %r6, 6285
jset %r6, 64, s68
add %r0, 68
s68:
xor %r6, 14204
jset %r6, 128, s69
add %r0, 69
s69:
xor %r6, 22123
jset %r6, 256, s70
add %r0, 70
s70:
xor %r6, 30042
jset %r6, 512, s71
add %r0, 71
s71:
xor %r6, 37961
jset %r6, 1024, s72
add %r0, 72
s72:
xor %r6, 45880
jset %r6, 2048, s73
add %r0, 73
s73:
xor %r6, 53799
jset %r6, 4096, s74
add %r0, 74
s74:
xor %r6, 61718
jset %r6, 8192, s75
add %r0, 75
s75:
xor %r6, 4101
jset %r6, 16384, s76
add %r0, 76
s76:
xor %r6, 12020
jset %r6, 32768, s77
add %r0, 77
s77:
xor %r6, 19939
jset %r6, 65536, s78
add %r0, 78
s78:
xor %r6, 27858
jset %r6, 131072, s79
add %r0, 79
s79:
xor %r6, 35777
jset %r6, 262144, s80
add %r0, 80
s80:
xor %r6, 43696
jset %r6, 524288, s81
add %r0, 81
s81:
xor %r6, 51615
jset %r6, 1048576, s82
add %r0, 82
s82:
xor %r6, 59534
jset %r6, 2097152, s83
add %r0, 83
s83:
xor %r6, 1917
jset %r6, 4194304, s84
add %r0, 84
s84:
xor %r6, 9836
jset %r6, 8388608, s85
add %r0, 85
s85:
xor %r6, 17755
jset %r6, 16777216, s86
add %r0, 86
s86:
xor %r6, 25674
jset %r6, 33554432, s87
add %r0, 87
s87:
xor %r6, 33593
jset %r6, 67108864, s88
add %r0, 88
s88:
xor %r6, 41512
jset %r6, 134217728, s89
add %r0, 89
s89:
xor %r6, 49431
jset %r6, 268435456, s90
add %r0, 90
s90:
xor %r6, 57350
jset %r6, 536870912, s91
add %r0, 91
s91:
xor %r6, 65269
jset %r6, 1073741824, s92
add %r0, 92
s92:
xor %r6, 7652
jset %r6, 1, s93
add %r0, 93
s93:
xor %r6, 15571
jset %r6, 2, s94
add %r0, 94
s94:
xor %r6, 23490
jset %r6, 4, s95
add %r0, 95
s95:
xor %r6, 31409
jset %r6, 8, s96
add %r0, 96
s96:
xor %r6, 39328
jset %r6, 16, s97
add %r0, 97
s97:
xor %r6, 47247
jset %r6, 32, s98
add %r0, 98
s98:
xor %r6, 55166
jset %r6, 64, s99
add %r0, 99
s99:
xor %r6, 63085
jset %r6, 128, s100
add %r0, 100
s100:
xor %r6, 5468
jset %r6, 256, s101
add %r0, 101
s101:
xor %r6, 13387
jset %r6, 512, s102
add %r0, 102
s102:
xor %r6, 21306
jset %r6, 1024, s103
add %r0, 103
s103:
xor %r6, 29225
jset %r6, 2048, s104
add %r0, 104
s104:
xor %r6, 37144
jset %r6, 4096, s105
add %r0, 105
s105:
xor %r6, 45063
jset %r6, 8192, s106
add %r0, 106
s106:
xor %r6, 52982
jset %r6, 16384, s107
add %r0, 107
s107:
xor %r6, 60901
jset %r6, 32768, s108
add %r0, 108
s108:
xor %r6, 3284
jset %r6, 65536, s109
add %r0, 109
s109:
xor %r6, 11203
jset %r6, 131072, s110
add %r0, 110
s110:
xor %r6, 19122
jset %r6, 262144, s111
add %r0, 111
s111:
xor %r6, 27041
jset %r6, 524288, s112
add %r0, 112
s112:
xor %r6, 34960
jset %r6, 1048576, s113
add %r0, 113
s113:
xor %r6, 42879
jset %r6, 2097152, s114
add %r0, 114
s114:
xor %r6, 50798
jset %r6, 4194304, s115
add %r0, 115
s115:
xor %r6, 58717
jset %r6, 8388608, s116
add %r0, 116
s116:
xor %r6, 1100
jset %r6, 16777216, s117
add %r0, 117
s117:
xor %r6, 9019
jset %r6, 33554432, s118
add %r0, 118
s118:
xor %r6, 16938
jset %r6, 67108864, s119
add %r0, 119
s119:
xor %r6, 24857
jset %r6, 134217728, s120
add %r0, 120
s120:
xor %r6, 32776
jset %r6, 268435456, s121
add %r0, 121
s121:
xor %r6, 40695
jset %r6, 536870912, s122
add %r0, 122
s122:
xor %r6, 48614
jset %r6, 1073741824, s123
add %r0, 123
s123:
xor %r6, 56533
jset %r6, 1, s124
add %r0, 124
s124:
xor %r6, 64452
jset %r6, 2, s125
add %r0, 125
s125:
xor %r6, 6835
jset %r6, 4, s126
add %r0, 126
s126:
xor %r6, 14754
jset %r6, 8, s127
add %r0, 127
s127:
xor %r6, 22673
jset %r6, 16, s128
add %r0, 128
s128:
xor %r6, 30592
jset %r6, 32, s129
add %r0, 129
s129:
xor %r6, 38511
jset %r6, 64, s130
add %r0, 130
s130:
xor %r6, 46430
jset %r6, 128, s131
add %r0, 131
s131:
xor %r6, 54349
jset %r6, 256, s132
add %r0, 132
s132:
xor %r6, 62268
jset %r6, 512, s133
add %r0, 133
s133:
xor %r6, 4651
jset %r6, 1024, s134
add %r0, 134
s134:
xor %r6, 12570
jset %r6, 2048, s135
add %r0, 135
s135:
xor %r6, 20489
jset %r6, 4096, s136
add %r0, 136
s136:
xor %r6, 28408
jset %r6, 8192, s137
add %r0, 137
s137:
xor %r6, 36327
jset %r6, 16384, s138
add %r0, 138
s138:
xor %r6, 44246
jset %r6, 32768, s139
add %r0, 139
s139:
xor %r6, 52165
jset %r6, 65536, s140
add %r0, 140
s140:
xor %r6, 60084
jset %r6, 131072, s141
add %r0, 141
s141:
xor %r6, 2467
jset %r6, 262144, s142
add %r0, 142
s142:
xor %r6, 10386
jset %r6, 524288, s143
add %r0, 143
s143:
xor %r6, 18305
jset %r6, 1048576, s144
add %r0, 144
s144:
xor %r6, 26224
jset %r6, 2097152, s145
add %r0, 145
s145:
xor %r6, 34143
jset %r6, 4194304, s146
add %r0, 146
s146:
xor %r6, 42062
jset %r6, 8388608, s147
add %r0, 147
s147:
xor %r6, 49981
jset %r6, 16777216, s148
add %r0, 148
s148:
xor %r6, 57900
jset %r6, 33554432, s149
add %r0, 149
s149:
xor %r6, 283
jset %r6, 67108864, s150
add %r0, 150
s150:
xor %r6, 8202
jset %r6, 134217728, s151
add %r0, 151
s151:
xor %r6, 16121
jset %r6, 268435456, s152
add %r0, 152
s152:
xor %r6, 24040
jset %r6, 536870912, s153
add %r0, 153
s153:
xor %r6, 31959
jset %r6, 1073741824, s154
add %r0, 154
s154:
xor %r6, 39878
jset %r6, 1, s155
add %r0, 155
s155:
xor %r6, 47797
jset %r6, 2, s156
add %r0, 156
s156:
xor %r6, 55716
jset %r6, 4, s157
add %r0, 157
s157:
xor %r6, 63635
jset %r6, 8, s158
add %r0, 158
s158:
xor %r6, 6018
jset %r6, 16, s159
add %r0, 159
s159:
xor %r6, 13937
jset %r6, 32, s160
add %r0, 160
s160:
xor %r6, 21856
jset %r6, 64, s161
add %r0, 161
s161:
xor %r6, 29775
jset %r6, 128, s162
add %r0, 162
s162:
xor %r6, 37694
jset %r6, 256, s163
add %r0, 163
s163:
xor %r6, 45613
jset %r6, 512, s164
add %r0, 164
s164:
xor %r6, 53532
jset %r6, 1024, s165
add %r0, 165
s165:
xor %r6, 61451
jset %r6, 2048, s166
add %r0, 166
s166:
xor %r6, 3834
jset %r6, 4096, s167
add %r0, 167
s167:
xor %r6, 11753
jset %r6, 8192, s168
add %r0, 168
s168:
xor %r6, 19672
jset %r6, 16384, s169
add %r0, 169
s169:
xor %r6, 27591
jset %r6, 32768, s170
add %r0, 170
s170:
xor %r6, 35510
jset %r6, 65536, s171
add %r0, 171
s171:
xor %r6, 43429
jset %r6, 131072, s172
add %r0, 172
s172:
xor %r6, 51348
jset %r6, 262144, s173
add %r0, 173
s173:
xor %r6, 59267
jset %r6, 524288, s174
add %r0, 174
s174:
xor %r6, 1650
jset %r6, 1048576, s175
add %r0, 175
s175:
xor %r6, 9569
jset %r6, 2097152, s176
add %r0, 176
s176:
xor %r6, 17488
jset %r6, 4194304, s177
add %r0, 177
s177:
xor %r6, 25407
jset %r6, 8388608, s178
add %r0, 178
s178:
xor %r6, 33326
jset %r6, 16777216, s179
add %r0, 179
s179:
xor %r6, 41245
jset %r6, 33554432, s180
add %r0, 180
s180:
xor %r6, 49164
jset %r6, 67108864, s181
add %r0, 181
s181:
xor %r6, 57083
jset %r6, 134217728, s182
add %r0, 182
s182:
xor %r6, 65002
jset %r6, 268435456, s183
add %r0, 183
s183:
xor %r6, 7385
jset %r6, 536870912, s184
add %r0, 184
s184:
xor %r6, 15304
jset %r6, 1073741824, s185
add %r0, 185
s185:
xor %r6, 23223
jset %r6, 1, s186
add %r0, 186
s186:
xor %r6, 31142
jset %r6, 2, s187
add %r0, 187
s187:
xor %r6, 39061
jset %r6, 4, s188
add %r0, 188
s188:
xor %r6, 46980
jset %r6, 8, s189
add %r0, 189
s189:
xor %r6, 54899
jset %r6, 16, s190
add %r0, 190
s190:
xor %r6, 62818
jset %r6, 32, s191
add %r0, 191
s191:
xor %r6, 5201
jset %r6, 64, s192
add %r0, 192
s192:
xor %r6, 13120
jset %r6, 128, s193
add %r0, 193
s193:
xor %r6, 21039
jset %r6, 256, s194
add %r0, 194
s194:
xor %r6, 28958
jset %r6, 512, s195
add %r0, 195
s195:
xor %r6, 36877
jset %r6, 1024, s196
add %r0, 196
s196:
xor %r6, 44796
jset %r6, 2048, s197
add %r0, 197
s197:
xor %r6, 52715
jset %r6, 4096, s198
add %r0, 198
s198:
xor %r6, 60634
jset %r6, 8192, s199
add %r0, 199
s199:
xor %r6, 3017
add %r7, 1
jlt %r7, 50, loop
exit
