#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build the course's kernel modules (data/modules/<name>/<name>.c) against
# Debian's kernel headers and copy the results back next to their sources.
#
# Usage: scripts/build-modules.sh [OUTPUT_DIR [NAME...]]
#   OUTPUT_DIR  where <name>/<name>.ko and kbuild's text files go
#               (default: data/modules, i.e. next to the sources)
#   NAME...     modules to build (default: every folder of data/modules that
#               has a Kbuild file); asking for consumer also builds provider
# Environment:
#   KDIR        the kernel build tree (default: /usr/src/linux-headers-<the
#               pinned release, data/kernel/pin.env>-$FLAVOUR; installed with
#               apt-get if missing, which needs root)
#   FLAVOUR     Debian kernel flavour when KDIR is not given (default: amd64;
#               the QEMU lab uses cloud-amd64 for its guest kernel)
# KDIR may also be a headers package unpacked with dpkg -x (not installed), e.g.
#   KDIR=$XDG_CACHE_HOME/kcourse/debian/linux-headers-6.1.0-NN-cloud-amd64/usr/src/linux-headers-6.1.0-NN-cloud-amd64
# as long as the matching linux-headers-6.1.0-NN-common and linux-kbuild-6.1
# are installed (its Makefile includes the -common one by absolute path).
#
# What it does for each module, in a fixed folder /tmp/kcourse-build/<name>
# (a fixed path, so that the .cmd files kbuild writes are the same on every
# rebuild; builds are serialised with flock on /tmp/kcourse-build/.lock):
#   make -C $KDIR M=/tmp/kcourse-build/<name> modules
#   (consumer: ... KBUILD_EXTRA_SYMBOLS=/tmp/kcourse-build/provider/Module.symvers)
#   strip --strip-debug <name>.ko      what Debian does to its own modules
#                                      (make modules_install INSTALL_MOD_STRIP=1,
#                                      scripts/Makefile.modinst: cmd_strip)
# then copies <name>.ko, <name>.mod.c, <name>.mod, Module.symvers,
# modules.order and .<name>.{ko,mod.o,o}.cmd to OUTPUT_DIR/<name>/, and the
# compiler's "warning:" lines (if any) to OUTPUT_DIR/<name>/build-warnings.txt.
#
# gplviolator is expected NOT to build: modpost refuses a GPL-incompatible
# module that uses a GPL-only symbol. Its modpost error lines are saved to
# OUTPUT_DIR/gplviolator/modpost-error.txt and no .ko is produced.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC="$ROOT/data/modules"
OUT="${1:-$SRC}"
[ $# -gt 0 ] && shift
BUILD=/tmp/kcourse-build
FLAVOUR="${FLAVOUR:-amd64}"

die() { echo "build-modules: $*" >&2; exit 1; }

# --- the kernel build tree -------------------------------------------------
if [ -z "${KDIR:-}" ]; then
    # The course kernel is pinned (data/kernel/pin.env); Debian's moving
    # linux-headers-$FLAVOUR meta-package is never asked.
    . "$ROOT/data/kernel/pin.env"
    pkg="linux-headers-$KCOURSE_ABI-$FLAVOUR"
    KDIR="/usr/src/$pkg"
    if [ ! -f "$KDIR/Makefile" ]; then
        echo "build-modules: installing $pkg" >&2
        apt-get install -y "$pkg" >&2 || die "apt-get install $pkg failed (needs root; if apt has no $pkg, move the pin: scripts/move-kernel.sh 6.1.0-NN)"
    fi
fi
[ -f "$KDIR/Makefile" ] || die "$KDIR is not a kernel build tree (no Makefile)"
[ -f "$KDIR/Module.symvers" ] || die "$KDIR has no Module.symvers"
for tool in make gcc strip flock; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install build-essential)"
done

# --- which modules ---------------------------------------------------------
if [ $# -eq 0 ]; then
    set -- $(cd "$SRC" && for k in */Kbuild; do dirname "$k"; done)
fi
names=""
for n in "$@"; do
    [ -f "$SRC/$n/Kbuild" ] || die "no module '$n' in data/modules"
    # consumer is linked against provider's Module.symvers: build provider first.
    if [ "$n" = consumer ]; then
        case " $names " in *" provider "*) ;; *) names="$names provider" ;; esac
    fi
    case " $names " in *" $n "*) ;; *) names="$names $n" ;; esac
done
# provider must precede consumer whatever order the names came in.
case " $names " in
    *" consumer "*) names="provider $(echo "$names" | tr ' ' '\n' | grep -v -x -e provider -e '' | tr '\n' ' ')" ;;
esac

mkdir -p "$BUILD" "$OUT"
OUT=$(cd "$OUT" && pwd)
exec 9>"$BUILD/.lock"
flock 9

# A headers package unpacked with `dpkg -x` instead of installed (the QEMU lab
# keeps other flavours in its cache that way) has relative symlinks
# scripts -> ../../lib/linux-kbuild-X/scripts (and tools) that only resolve
# under /usr/src. Build through a shadow tree of links with those two pointed
# at the installed linux-kbuild package.
if [ ! -e "$KDIR/scripts" ] || [ ! -e "$KDIR/tools" ]; then
    base=$(basename "$KDIR")
    shadow="$BUILD/kdir/$base"
    rm -rf "$shadow"
    mkdir -p "$shadow"
    for e in $(ls -A "$KDIR"); do
        if [ -L "$KDIR/$e" ] && [ ! -e "$KDIR/$e" ]; then
            target=$(readlink -m "/usr/src/$base/$(readlink "$KDIR/$e")")
            [ -e "$target" ] || die "$KDIR/$e points to $target, which is missing (install linux-kbuild)"
            ln -s "$target" "$shadow/$e"
        else
            ln -s "$KDIR/$e" "$shadow/$e"
        fi
    done
    echo "build-modules: $KDIR is unpacked, not installed: building through $shadow" >&2
    KDIR="$shadow"
fi

build_one() {
    n=$1
    dir="$BUILD/$n"
    rm -rf "$dir"
    mkdir -p "$dir"
    # Only the inputs: sources, headers, Kbuild, Makefile.
    for f in "$SRC/$n"/*.c "$SRC/$n"/*.h "$SRC/$n/Kbuild" "$SRC/$n/Makefile"; do
        [ -f "$f" ] && cp "$f" "$dir/"
    done
    extra=""
    [ "$n" = consumer ] && extra="KBUILD_EXTRA_SYMBOLS=$BUILD/provider/Module.symvers"
    log="$dir/.build.log"
    mkdir -p "$OUT/$n"
    if [ "$n" = gplviolator ]; then
        # Expected to fail in modpost; keep modpost's verdict as the artifact.
        if make -C "$KDIR" M="$dir" modules >"$log" 2>&1; then
            die "gplviolator built, but modpost was expected to refuse it"
        fi
        grep -E '^(ERROR|WARNING): modpost:' "$log" >"$OUT/$n/modpost-error.txt" \
            || { cat "$log" >&2; die "gplviolator failed, but not in modpost"; }
        echo "build-modules: gplviolator refused by modpost (as expected)" >&2
        return 0
    fi
    # shellcheck disable=SC2086  # $extra is empty or one word
    if ! make -C "$KDIR" M="$dir" $extra modules >"$log" 2>&1; then
        cat "$log" >&2
        die "building $n failed"
    fi
    strip --strip-debug "$dir/$n.ko"
    for f in "$n.ko" "$n.mod.c" "$n.mod" Module.symvers modules.order \
             ".$n.ko.cmd" ".$n.mod.o.cmd" ".$n.o.cmd"; do
        cp "$dir/$f" "$OUT/$n/$f"
    done
    if grep -q 'warning:' "$log"; then
        grep 'warning:' "$log" >"$OUT/$n/build-warnings.txt"
    else
        rm -f "$OUT/$n/build-warnings.txt"
    fi
    echo "build-modules: $n.ko ($(wc -c <"$OUT/$n/$n.ko") bytes)" >&2
}

echo "build-modules: KDIR=$KDIR OUTPUT=$OUT" >&2
for n in $names; do
    build_one "$n"
done
