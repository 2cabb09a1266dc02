# slabprobe: caches of a module's own, merged or not, and /sys/kernel/slab. Run in a folder
# holding slabprobe.ko: kcourse sim [--real] --transcript script.sh
insmod slabprobe.ko
dmesg | grep -v -e "taints kernel" -e "verification failed"
ls -d /sys/kernel/slab/slabprobe_merged /sys/kernel/slab/slabprobe_ctor /sys/kernel/slab/slabprobe_odd /sys/kernel/slab/slabprobe_big
cat /sys/kernel/slab/slabprobe_merged/object_size /sys/kernel/slab/slabprobe_merged/slab_size /sys/kernel/slab/slabprobe_merged/align
cat /sys/kernel/slab/slabprobe_ctor/object_size /sys/kernel/slab/slabprobe_ctor/slab_size /sys/kernel/slab/slabprobe_ctor/align /sys/kernel/slab/slabprobe_ctor/objs_per_slab /sys/kernel/slab/slabprobe_ctor/order
cat /sys/kernel/slab/slabprobe_big/objs_per_slab /sys/kernel/slab/slabprobe_big/order /sys/kernel/slab/slabprobe_odd/objs_per_slab
cat /sys/kernel/slab/slabprobe_odd/object_size /sys/kernel/slab/slabprobe_odd/slab_size /sys/kernel/slab/slabprobe_odd/align
cat /sys/kernel/slab/slabprobe_big/object_size /sys/kernel/slab/slabprobe_big/slab_size /sys/kernel/slab/slabprobe_big/align
dmesg -C
rmmod slabprobe
dmesg
ls -d /sys/kernel/slab/slabprobe_merged /sys/kernel/slab/slabprobe_ctor /sys/kernel/slab/slabprobe_odd /sys/kernel/slab/slabprobe_big
cat /sys/kernel/slab/slabprobe_merged/object_size /sys/kernel/slab/slabprobe_big/object_size
