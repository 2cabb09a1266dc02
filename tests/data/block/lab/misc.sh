# The lab guest's misc devices at boot, and after Debian's loop adds loop-control
# (fixed minor 237). Run anywhere: kcourse sim [--real] --transcript misc.sh
cat /proc/misc
modprobe loop
cat /proc/misc
rmmod loop
cat /proc/misc
