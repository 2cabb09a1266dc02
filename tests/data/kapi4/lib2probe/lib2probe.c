// SPDX-License-Identifier: GPL-2.0
/* lib2probe: print_hex_dump and hex_dump_to_buffer (lib/hexdump.c), gcd, strncasecmp,
 * sysfs_streq, match_string (lib/string.c), kfree_sensitive (mm/slab_common.c), the ctype
 * table (lib/ctype.c), bitrev8 (lib/bitrev.c), fips_enabled, kmem_cache_size, and
 * request_firmware of a file the guest does not have (drivers/base/firmware_loader). */
#include <linux/bitrev.h>
#include <linux/ctype.h>
#include <linux/device.h>
#include <linux/firmware.h>
#include <linux/fips.h>
#include <linux/gcd.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/slab.h>
#include <linux/string.h>

static const char *const colours[] = { "red", "green", "blue", NULL };
static const unsigned char data[40] = "lib2probe hex dump\x01\x02\x7f\x80\xff 0123456789abcdef";

static int __init lib2probe_init(void)
{
	char line[200];
	const struct firmware *fw = NULL;
	struct kmem_cache *cache;
	char *p;
	int i, n, ctype = 0;

	print_hex_dump(KERN_INFO, "lib2probe a ", DUMP_PREFIX_OFFSET, 16, 1, data, 40, true);
	print_hex_dump(KERN_INFO, "lib2probe b ", DUMP_PREFIX_NONE, 32, 4, data, 37, false);
	print_hex_dump(KERN_INFO, "lib2probe c ", DUMP_PREFIX_OFFSET, 16, 2, data, 21, true);
	print_hex_dump(KERN_INFO, "lib2probe d ", DUMP_PREFIX_OFFSET, 8, 8, data, 20, true);
	n = hex_dump_to_buffer(data, 16, 16, 1, line, sizeof(line), true);
	pr_info("lib2probe buffer %d '%s'\n", n, line);
	n = hex_dump_to_buffer(data, 10, 16, 4, line, 12, false);
	pr_info("lib2probe short %d '%s'\n", n, line);
	n = hex_dump_to_buffer(data, 7, 16, 3, line, sizeof(line), true);
	pr_info("lib2probe odd group %d '%s'\n", n, line);
	pr_info("lib2probe gcd %lu %lu %lu %lu\n", gcd(12, 18), gcd(0, 5), gcd(7, 0),
		gcd(1UL << 40, 1UL << 20));
	pr_info("lib2probe strncasecmp %d %d %d %d\n", strncasecmp("Hello", "hELLo", 5),
		strncasecmp("abc", "abd", 3), strncasecmp("abc", "ABD", 2),
		strncasecmp("b", "A", 1));
	pr_info("lib2probe sysfs_streq %d %d %d %d\n", sysfs_streq("on\n", "on"),
		sysfs_streq("on", "on\n"), sysfs_streq("on", "off"), sysfs_streq("o", "on"));
	pr_info("lib2probe match_string %d %d %d\n", match_string(colours, -1, "blue"),
		match_string(colours, 2, "blue"), match_string(colours, 3, "pink"));
	for (i = 0; i < 256; i++)
		ctype = ctype * 31 + (isalpha(i) ? 1 : 0) + (isdigit(i) ? 2 : 0) +
			(isspace(i) ? 4 : 0) + (ispunct(i) ? 8 : 0) + (isxdigit(i) ? 16 : 0) +
			(iscntrl(i) ? 32 : 0) + (isupper(i) ? 64 : 0);
	pr_info("lib2probe ctype %x %c%c\n", ctype, toupper('q'), tolower('Q'));
	pr_info("lib2probe bitrev %02x %02x %04x\n", bitrev8(0x01), bitrev8(0xa5),
		bitrev16(0x1234));
	pr_info("lib2probe fips %d\n", fips_enabled);
	cache = kmem_cache_create("lib2probe", 100, 0, 0, NULL);
	pr_info("lib2probe cache size %u\n", kmem_cache_size(cache));
	kmem_cache_destroy(cache);
	p = kmalloc(32, GFP_KERNEL);
	strcpy(p, "secret");
	kfree_sensitive(p);
	kfree_sensitive(NULL);
	n = request_firmware(&fw, "kcourse-no-such.bin", NULL);
	pr_info("lib2probe firmware %d %d\n", n, fw == NULL);
	release_firmware(fw);
	return 0;
}

static void __exit lib2probe_exit(void)
{
}

module_init(lib2probe_init);
module_exit(lib2probe_exit);
MODULE_LICENSE("GPL");
