// slabprobe: kmem_cache_create, alloc, free and destroy (mm/slab_common.c, mm/slub.c): which
// caches merge with one of the kernel's own (find_mergeable), what the cache a module gets
// back holds, the ctor, and what /sys/kernel/slab shows for each name.
#include <linux/module.h>
#include <linux/slab.h>

struct thing {
	int id;
	char name[32];
};				/* 36 bytes, as LKMPG's kmem_cache example */

static struct kmem_cache *merged, *own, *odd, *big;
static struct thing *a, *b, *c;

static void thing_ctor(void *p)
{
	((struct thing *)p)->id = 77;
}

/* struct kmem_cache is mm/slab.h's business (include/linux/slub_def.h does not build in a
 * module): its fields by their offsets in 6.1.0-56-amd64's BTF (pahole). */
#define FIELD(s, type, offset) (*(type *)((char *)(s) + (offset)))

static void show(const char *what, struct kmem_cache *s)
{
	pr_info("%s: name %s, object_size %u, size %u, align %u, inuse %u, refcount %d, ctor %d\n",
		what, FIELD(s, const char *, 96), FIELD(s, unsigned int, 28),
		FIELD(s, unsigned int, 24), FIELD(s, unsigned int, 84),
		FIELD(s, unsigned int, 80), FIELD(s, int, 64), FIELD(s, void *, 72) != NULL);
}

static int __init slabprobe_init(void)
{
	merged = kmem_cache_create("slabprobe_merged", sizeof(struct thing), 0,
				   SLAB_HWCACHE_ALIGN, NULL);
	own = kmem_cache_create("slabprobe_ctor", sizeof(struct thing), 0, 0, thing_ctor);
	odd = kmem_cache_create("slabprobe_odd", 200, 0, 0, NULL);
	big = kmem_cache_create("slabprobe_big", 3000, 0, SLAB_HWCACHE_ALIGN, NULL);
	if (!merged || !own || !odd || !big)
		return -ENOMEM;
	show("merged", merged);
	show("ctor", own);
	show("odd", odd);
	show("big", big);
	a = kmem_cache_alloc(merged, GFP_KERNEL);
	b = kmem_cache_alloc(own, GFP_KERNEL);
	c = kmem_cache_zalloc(odd, GFP_KERNEL);
	if (!a || !b || !c)
		return -ENOMEM;
	pr_info("ctor set id %d, zalloc id %d, ksize %zu %zu %zu\n", b->id,
		((struct thing *)c)->id, ksize(a), ksize(b), ksize(c));
	b->id = 5;
	kmem_cache_free(own, b);
	b = kmem_cache_alloc(own, GFP_KERNEL);
	pr_info("reused object id %d\n", b ? b->id : -1);
	return 0;
}

static void __exit slabprobe_exit(void)
{
	kmem_cache_free(merged, a);
	kmem_cache_free(own, b);
	kmem_cache_free(odd, c);
	kmem_cache_destroy(merged);
	kmem_cache_destroy(own);
	kmem_cache_destroy(odd);
	kmem_cache_destroy(big);
	pr_info("destroyed\n");
}

module_init(slabprobe_init);
module_exit(slabprobe_exit);
MODULE_LICENSE("GPL");
