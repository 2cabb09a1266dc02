# kmem_cache (LKMPG examples): a slab cache of its own: kmem_cache_create, alloc and free.
# Run from data/lkmpg: kcourse sim [--real] --transcript kmem_cache/script.sh
insmod kmem_cache/kmem_cache.ko
dmesg -c
grep '^kmem_cache ' /proc/modules
ls -d /sys/kernel/slab/my_custom_cache
cat /sys/kernel/slab/my_custom_cache/object_size
rmmod kmem_cache
dmesg -c
ls -d /sys/kernel/slab/my_custom_cache
