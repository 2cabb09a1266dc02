cat /proc/filesystems
modprobe isofs
dmesg -c
lsmod
cat /proc/modules
cat /proc/filesystems
ls /sys/module/isofs
cat /sys/module/isofs/refcnt /sys/module/cdrom/refcnt
ls /sys/module/cdrom/holders
ls /proc/sys/dev/cdrom
stat -c '%A %F %n' /sys/kernel/slab/isofs_inode_cache
cat /sys/kernel/slab/isofs_inode_cache/object_size /sys/kernel/slab/isofs_inode_cache/slab_size /sys/kernel/slab/isofs_inode_cache/objs_per_slab /sys/kernel/slab/isofs_inode_cache/order /sys/kernel/slab/isofs_inode_cache/align /sys/kernel/slab/isofs_inode_cache/aliases
rmmod cdrom
modprobe -r isofs
dmesg -c
lsmod
cat /proc/filesystems
ls /proc/sys/dev
ls /sys/kernel/slab/isofs_inode_cache
modprobe iso9660
lsmod
rmmod isofs
dmesg -c
cat /proc/filesystems
lsmod
rmmod cdrom
dmesg -c
