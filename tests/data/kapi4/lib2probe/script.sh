# lib2probe: hexdump, gcd, strncasecmp, sysfs_streq, match_string, ctype, bitrev,
# kfree_sensitive, request_firmware. Run in a folder holding lib2probe.ko:
# kcourse sim [--real] --transcript script.sh
insmod lib2probe.ko
dmesg | grep -v -e 'taints kernel' -e 'verification failed'
rmmod lib2probe
