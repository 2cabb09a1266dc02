#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Copy The Linux Kernel Module Programming Guide's example modules
# (github.com/sysprog21/lkmpg, examples/) into data/lkmpg/, one folder per
# module of examples/Makefile, each with its sources and a Kbuild file made of
# that module's lines of the upstream Makefile.
#
# Usage: scripts/vendor-lkmpg.sh GIT_DIR [COMMIT]
#   GIT_DIR  a clone of sysprog21/lkmpg (a bare git directory is enough)
#   COMMIT   default HEAD; the resolved hash is written to data/lkmpg/PROVENANCE
#
# What it writes, for each `obj-m += NAME.o` line of examples/Makefile:
#   data/lkmpg/NAME/NAME.c   (startstop: start.c and stop.c, its `startstop-objs`)
#   data/lkmpg/NAME/X.h      each header the sources include with "X.h"
#   data/lkmpg/NAME/Kbuild   obj-m := NAME.o (and NAME-objs := ... when upstream has it)
# and data/lkmpg/LICENSE (the repository's GPL-2 file: the examples' licence) and
# data/lkmpg/PROVENANCE (repository, commit, date, the file list with blob hashes).
# The files are copied byte for byte; nothing is patched. The built .ko files,
# scripts and recordings next to them are left alone.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/data/lkmpg"
die() { echo "vendor-lkmpg: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: scripts/vendor-lkmpg.sh GIT_DIR [COMMIT]"
GIT="git --git-dir=$1"
COMMIT=$($GIT rev-parse --verify "${2:-HEAD}^{commit}") || die "no commit ${2:-HEAD} in $1"
show() { $GIT show "$COMMIT:$1"; }

makefile=$(show examples/Makefile) || die "$COMMIT has no examples/Makefile"
names=$(printf '%s\n' "$makefile" | sed -n 's/^obj-m += \(.*\)\.o$/\1/p')
[ -n "$names" ] || die "no obj-m lines in examples/Makefile"

mkdir -p "$OUT"
show GPL-2 >"$OUT/LICENSE"
{
    echo "repository: https://github.com/sysprog21/lkmpg"
    echo "commit: $COMMIT"
    echo "date: $($GIT log -1 --format=%cI "$COMMIT")"
    echo "subject: $($GIT log -1 --format=%s "$COMMIT")"
    echo "files (upstream path, git blob):"
} >"$OUT/PROVENANCE"

count=0
for name in $names; do
    dir="$OUT/$name"
    mkdir -p "$dir"
    objs=$(printf '%s\n' "$makefile" | sed -n "s/^$name-objs := \(.*\)$/\1/p")
    sources=""
    if [ -n "$objs" ]; then
        for o in $objs; do sources="$sources ${o%.o}.c"; done
    else
        sources="$name.c"
    fi
    files=""
    for c in $sources; do
        show "examples/$c" >"$dir/$c" || die "examples/$c missing at $COMMIT"
        files="$files $c"
        for h in $(sed -n 's/^#include "\([^"/]*\.h\)".*/\1/p' "$dir/$c"); do
            case " $files " in *" $h "*) continue ;; esac
            show "examples/$h" >"$dir/$h" || die "examples/$h missing at $COMMIT"
            files="$files $h"
        done
    done
    {
        echo "obj-m := $name.o"
        [ -n "$objs" ] && echo "$name-objs := $objs"
    } >"$dir/Kbuild"
    for f in $files; do
        echo "  examples/$f $($GIT rev-parse "$COMMIT:examples/$f") -> $name/$f"
    done >>"$OUT/PROVENANCE"
    count=$((count + 1))
done
echo "vendor-lkmpg: $count examples from $COMMIT into $OUT" >&2
