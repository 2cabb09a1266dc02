# The CPU hotplug states the lab's kernel names at boot, and the two zsmalloc and zram add.
# Run anywhere: kcourse sim --real --transcript hotplug.sh
cat /sys/devices/system/cpu/hotplug/states
modprobe zram
grep -e zram -e zsmalloc /sys/devices/system/cpu/hotplug/states
