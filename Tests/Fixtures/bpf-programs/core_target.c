/* Target types for the CO-RE tests: the "kernel" the programs in
 * core_fields.c are relocated against. Compared with the programs' local
 * flavors, fields moved (a, b), one changed size (b: 4 -> 8 bytes,
 * unsigned), bitfields moved (mode), one field is missing (d), an
 * enumerator changed value (GREEN) and one is missing (BLUE). */
struct foo {
	unsigned int pad[3];         /* offset 0 */
	unsigned long long b;        /* offset 16 (local: 4, 4 bytes) */
	unsigned int flags : 3;      /* offset 24, bits 0-2 */
	signed int mode : 5;         /* bits 3-7 (local: bits 4-8) */
	int a;                       /* offset 28 (local: 0) */
	char name[6];                /* offset 32 */
};                               /* sizeof 40 */

enum color { RED = 10, GREEN = 21 };

struct only_in_target { int x; };

struct foo *keep_foo;
enum color keep_color;
struct only_in_target *keep_only;
