# wpprobe: a store into sys_call_table with CR0.WP set. Run in a folder holding wpprobe.ko:
# kcourse sim [--real] --transcript script.sh
insmod wpprobe.ko
dmesg | grep -e wpprobe -e 'BUG:' -e '#PF' -e 'Oops' -e 'RIP: 0010'
