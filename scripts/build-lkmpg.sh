#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build The Linux Kernel Module Programming Guide's examples (data/lkmpg/<name>/,
# vendored by scripts/vendor-lkmpg.sh) against the pinned kernel's headers and
# copy each .ko back next to its sources, with a manifest.
#
# Usage: scripts/build-lkmpg.sh [OUTPUT_DIR [NAME...]]
#   OUTPUT_DIR  where <name>/<name>.ko goes (default: data/lkmpg, next to the
#               sources; tests/test_lkmpg.py rebuilds into a temporary folder
#               and compares)
#   NAME...     examples to build (default: every folder of data/lkmpg with a
#               Kbuild file); asking for vkbd also builds vinput
# Environment:
#   KDIR        the kernel build tree. Default: /usr/src/linux-headers-<pin>-amd64
#               (data/kernel/pin.env) when installed, else the tree `kcourse build`
#               uses: Debian's header packages fetched into ~/.cache/kcourse/headers
#               without root (kcourse/build/headers.py build_tree).
#   PYTHON      the Python that has kcourse's dependencies (default: python3), used
#               only to find or fetch the headers when /usr/src lacks them.
#
# For each example, in a fixed folder /tmp/kcourse-build-lkmpg/<name> (a fixed
# path, so a rebuild gives the same bytes; builds are serialised with flock):
#   make -C $KDIR M=/tmp/kcourse-build-lkmpg/<name> modules
#   (vkbd: ... KBUILD_EXTRA_SYMBOLS=/tmp/kcourse-build-lkmpg/vinput/Module.symvers,
#    because vkbd calls vinput's exported vinput_register and vinput_unregister)
#   strip --strip-debug <name>.ko    as Debian strips its own modules
#                                    (scripts/Makefile.modinst: cmd_strip)
# then copies <name>.ko and <name>.mod.c to OUTPUT_DIR/<name>/, the compiler's
# "warning:" lines to OUTPUT_DIR/<name>/build-warnings.txt. An example that does
# not build leaves OUTPUT_DIR/<name>/build-error.txt (the make output's error
# lines) and no .ko; the run goes on with the others and exits 1 at the end.
# OUTPUT_DIR/manifest.tsv gets one row per example:
#   name  status  ko_bytes  ko_sha256  sources_sha256
# (sources_sha256: sha256 of the `sha256sum` lines of its .c/.h files, without the
#  generated .mod.c, and Kbuild, sorted by name; status is `built` or `failed`).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC="$ROOT/data/lkmpg"
OUT="${1:-$SRC}"
[ $# -gt 0 ] && shift
BUILD=/tmp/kcourse-build-lkmpg

die() { echo "build-lkmpg: $*" >&2; exit 1; }

# --- the kernel build tree -------------------------------------------------
if [ -z "${KDIR:-}" ]; then
    . "$ROOT/data/kernel/pin.env"
    KDIR="/usr/src/linux-headers-$KCOURSE_ABI-amd64"
    if [ ! -f "$KDIR/Makefile" ]; then
        echo "build-lkmpg: $KDIR not installed; using kcourse's header cache" >&2
        KDIR=$(cd "$ROOT" && PYTHONPATH="$ROOT" "${PYTHON:-python3}" -c \
            'from kcourse.build.headers import build_tree; print(build_tree())') \
            || die "no kernel headers (apt-get install linux-headers-$KCOURSE_ABI-amd64, or KDIR=...)"
    fi
fi
[ -f "$KDIR/Makefile" ] || die "$KDIR is not a kernel build tree (no Makefile)"
[ -f "$KDIR/Module.symvers" ] || die "$KDIR has no Module.symvers"
for tool in make gcc strip flock sha256sum; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install build-essential)"
done

# --- which examples --------------------------------------------------------
if [ $# -eq 0 ]; then
    set -- $(cd "$SRC" && for k in */Kbuild; do dirname "$k"; done)
fi
names=""
for n in "$@"; do
    [ -f "$SRC/$n/Kbuild" ] || die "no example '$n' in data/lkmpg"
    case " $names " in *" $n "*) ;; *) names="$names $n" ;; esac
done
# vkbd links against vinput's Module.symvers: vinput goes first.
case " $names " in
    *" vkbd "*) names="vinput $(echo "$names" | tr ' ' '\n' | grep -v -x -e vinput -e '' | tr '\n' ' ')" ;;
esac

mkdir -p "$BUILD" "$OUT"
OUT=$(cd "$OUT" && pwd)
exec 9>"$BUILD/.lock"
flock 9

# The example's inputs: its .c and .h files (not kbuild's generated NAME.mod.c) and Kbuild.
sources_hash() {
    (cd "$SRC/$1" && ls ./*.c ./*.h Kbuild 2>/dev/null | sed 's|^\./||' | grep -v '\.mod\.c$' \
        | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
}

failed=0
build_one() {
    n=$1
    dir="$BUILD/$n"
    rm -rf "$dir"
    mkdir -p "$dir" "$OUT/$n"
    for f in "$SRC/$n"/*.c "$SRC/$n"/*.h "$SRC/$n/Kbuild"; do
        [ -f "$f" ] && cp "$f" "$dir/"
    done
    extra=""
    [ "$n" = vkbd ] && extra="KBUILD_EXTRA_SYMBOLS=$BUILD/vinput/Module.symvers"
    log="$dir/.build.log"
    rm -f "$OUT/$n/build-error.txt" "$OUT/$n/build-warnings.txt"
    # shellcheck disable=SC2086  # $extra is empty or one word
    if ! make -C "$KDIR" M="$dir" $extra modules >"$log" 2>&1; then
        grep -E 'error:|ERROR:|Error [0-9]' "$log" | sed "s|$dir/||g" >"$OUT/$n/build-error.txt" \
            || cp "$log" "$OUT/$n/build-error.txt"
        rm -f "$OUT/$n/$n.ko" "$OUT/$n/$n.mod.c"
        echo "build-lkmpg: $n FAILED (see data/lkmpg/$n/build-error.txt)" >&2
        printf '%s\tfailed\t-\t-\t%s\n' "$n" "$(sources_hash "$n")" >>"$manifest"
        failed=$((failed + 1))
        return 0
    fi
    strip --strip-debug "$dir/$n.ko"
    cp "$dir/$n.ko" "$dir/$n.mod.c" "$OUT/$n/"
    if grep -q 'warning:' "$log"; then
        grep 'warning:' "$log" | sed "s|$dir/||g" >"$OUT/$n/build-warnings.txt"
    fi
    printf '%s\tbuilt\t%s\t%s\t%s\n' "$n" "$(wc -c <"$OUT/$n/$n.ko" | tr -d ' ')" \
        "$(sha256sum "$OUT/$n/$n.ko" | cut -d' ' -f1)" "$(sources_hash "$n")" >>"$manifest"
    echo "build-lkmpg: $n.ko ($(wc -c <"$OUT/$n/$n.ko") bytes)" >&2
}

echo "build-lkmpg: KDIR=$KDIR OUTPUT=$OUT" >&2
manifest="$BUILD/manifest.tsv"
: >"$manifest"
for n in $names; do
    build_one "$n"
done
# Rows of examples not rebuilt this time stay as they were.
if [ -f "$OUT/manifest.tsv" ]; then
    tail -n +2 "$OUT/manifest.tsv" | while IFS="$(printf '\t')" read -r name rest; do
        case " $names " in *" $name "*) ;; *) printf '%s\t%s\n' "$name" "$rest" ;; esac
    done >>"$manifest"
fi
{
    printf 'name\tstatus\tko_bytes\tko_sha256\tsources_sha256\n'
    LC_ALL=C sort "$manifest"
} >"$OUT/manifest.tsv"
echo "build-lkmpg: $(($(echo $names | wc -w) - failed)) built, $failed failed" >&2
[ "$failed" -eq 0 ]
