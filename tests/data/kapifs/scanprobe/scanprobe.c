// SPDX-License-Identifier: GPL-2.0
/*
 * scanprobe: the kernel's sscanf (lib/vsprintf.c vsscanf) on a table of inputs and formats;
 * init prints what each call stored and returned, and returns -ENODEV so nothing stays.
 */
#include <linux/kernel.h>
#include <linux/module.h>

struct out {
	int i[3];
	unsigned int u;
	long l;
	unsigned long long ull;
	short h;
	signed char hh;
	size_t z;
	int n;
	char s[16], t[16], c[4];
};

#define SHOW(tag, ret) pr_info("%s: ret=%d i=%d,%d,%d u=%u l=%ld ull=%llu h=%d hh=%d z=%zu " \
			       "n=%d s=[%s] t=[%s] c=[%.3s]\n", tag, ret, o.i[0], o.i[1], \
			       o.i[2], o.u, o.l, o.ull, o.h, o.hh, o.z, o.n, o.s, o.t, o.c)
#define CASE(tag, in, fmt, ...) do { \
		memset(&o, 0, sizeof(o)); \
		memset(o.s, 'S', 15); memset(o.t, 'T', 15); memset(o.c, 'C', 3); \
		ret = sscanf(in, fmt, __VA_ARGS__); \
		SHOW(tag, ret); \
	} while (0)

static int __init scanprobe_init(void)
{
	struct out o;
	int ret;

	CASE("d2", "12 34", "%d %d", &o.i[0], &o.i[1]);
	CASE("neg", "  -5x", "%d", &o.i[0]);
	CASE("i-hex", "0x1f 010 9", "%i %i %i", &o.i[0], &o.i[1], &o.i[2]);
	CASE("x", "ff 0xAB", "%x %x", &o.i[0], &o.i[1]);
	CASE("o", "777 8", "%o %o", &o.i[0], &o.i[1]);
	CASE("width", "12345", "%3d%d", &o.i[0], &o.i[1]);
	CASE("u", "4294967295", "%u", &o.u);
	CASE("u-neg", "-1", "%u", &o.u);
	CASE("l", "-9000000000", "%ld", &o.l);
	CASE("ull", "18446744073709551615", "%llu", &o.ull);
	CASE("Ld", "123456789012", "%Lu", &o.ull);
	CASE("big-d", "99999999999", "%d", &o.i[0]);
	CASE("h", "70000", "%hd", &o.h);
	CASE("hh", "300", "%hhd", &o.hh);
	CASE("z", "4096", "%zu", &o.z);
	CASE("n", "ab 12", "ab %d%n", &o.i[0], &o.n);
	CASE("s", "  hello world", "%s %s", o.s, o.t);
	CASE("s-width", "abcdefgh", "%3s%s", o.s, o.t);
	CASE("c", "xyz", "%c%2c", o.c, o.t);
	CASE("set", "00:0a:95", "%2[^:]:%2[^:]", o.s, o.t);
	CASE("set-dash", "a-b", "%3[a-]", o.s);
	CASE("skip", "1 2 3", "%*d %d", &o.i[0]);
	CASE("literal", "1,2", "%d,%d", &o.i[0], &o.i[1]);
	CASE("mismatch", "1;2", "%d,%d", &o.i[0], &o.i[1]);
	CASE("pct", "5%", "%d%%%n", &o.i[0], &o.n);
	CASE("empty", "", "%d", &o.i[0]);
	CASE("not-num", "abc", "%d", &o.i[0]);
	CASE("x-prefix-only", "0x", "%x", &o.i[0]);
	CASE("x-width", "0x123", "%3x%d", &o.i[0], &o.i[1]);
	CASE("space-fmt", "7\t\n 8", "%d %d", &o.i[0], &o.i[1]);
	CASE("nospace", "7 8", "%d%d", &o.i[0], &o.i[1]);
	CASE("minus-width1", "-5", "%1d", &o.i[0]);
	CASE("newline", "42\n", "%d\n%n", &o.i[0], &o.n);
	return -ENODEV;
}

module_init(scanprobe_init);
MODULE_LICENSE("GPL");
