# kprobeprobe: a kprobe on kallsyms_lookup_name gives its address; sys_call_table through it.
# Run in a folder holding kprobeprobe.ko: kcourse sim [--real] --transcript script.sh
insmod kprobeprobe.ko
dmesg | grep -e kprobeprobe -e WARNING
rmmod kprobeprobe
