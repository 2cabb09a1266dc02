# The crypto API of the lab's kernel: its algorithms (the source of
# kcourse.kapi.zram_stops.BUILTIN_COMPRESSION). Run: kcourse sim --real --transcript crypto.sh
cat /proc/crypto
