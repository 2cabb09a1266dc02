# Tampered copies of course modules: vermagic, CRCs and licence, each changed in place.
# The copies are made by kcourse.lab.tamper.make_course_copies() in /tmp/kcourse-tampered
# (tests/test_lab_differential.py makes them before running this script).
modinfo -F vermagic /tmp/kcourse-tampered/hello-release.ko
insmod /tmp/kcourse-tampered/hello-release.ko
dmesg -c
rmmod hello
insmod /tmp/kcourse-tampered/hello-nopreempt.ko
dmesg -c
insmod /tmp/kcourse-tampered/hello-badcrc.ko
dmesg -c
insmod provider/provider.ko
insmod /tmp/kcourse-tampered/consumer-badcrc.ko
dmesg -c
modinfo -F license /tmp/kcourse-tampered/consumer-bsd.ko
insmod /tmp/kcourse-tampered/consumer-bsd.ko
dmesg -c
cat /proc/sys/kernel/tainted
lsmod
