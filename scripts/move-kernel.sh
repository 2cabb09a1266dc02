#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Move the course kernel to another Debian ABI: the maintainer's one command.
#
# Usage: scripts/move-kernel.sh 6.1.0-NN
#
# The course is pinned to one release (data/kernel/pin.env). Debian's -amd64
# meta-packages move every few weeks; when a maintainer decides to follow,
# this rewrites the pin and everything made for the old release, in order:
#   1. checks apt has the new release's packages (by full name) and installs
#      linux-headers-6.1.0-NN-amd64 (apt-get: run as root);
#   2. data/kernel/pin.env: the new ABI and its Debian version;
#   3. scripts/build-modules.sh: the course .ko files, rebuilt and stripped;
#   4. data/kernel/extract.sh: Module.symvers, config and kernel.json;
#      scripts/extract-structs.py: structs.json from the new vmlinux's BTF
#      (needs pahole: apt-get install dwarves);
#   5. the committed text that names the release (README, notebooks, data
#      READMEs, comments, tests' literal release names): old -> new;
#   6. data/build/bzimage-amd64.json from the new linux-image;
#   7. the real-kernel expectations, re-recorded on the new kernel under QEMU:
#      every tests/scenarios/*.expected with `kcourse sim --real --transcript`
#      (its "#|" provenance header kept, addresses and timestamps masked as
#      tests/scenarios/README.md says) and lesson 05's recordings
#      (kcourse.lab.lesson.record);
#   8. every notebook, re-executed in place;
# then prints what changed (git diff --stat) and how long it took. It commits
# nothing: review the diff, run ./run test, then commit.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
die() { echo "move-kernel: $*" >&2; exit 1; }
step() { echo "move-kernel: [$(($(date +%s) - start)) s] $*" >&2; }

new=${1:-}
case "$new" in
    6.1.0-[0-9]*) ;;
    *) die "usage: scripts/move-kernel.sh 6.1.0-NN (the Debian ABI to move the course to)" ;;
esac
[ $# -eq 1 ] || die "usage: scripts/move-kernel.sh 6.1.0-NN"
. data/kernel/pin.env
old=$KCOURSE_ABI
old_version=$KCOURSE_DEBIAN_VERSION
[ "$new" != "$old" ] || die "the course is already pinned to $old"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || die "no .venv: run ./run test once first (it creates .venv)"
KCOURSE="$ROOT/.venv/bin/kcourse"
start=$(date +%s)

# --- 1. the new release's packages ----------------------------------------
candidate() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p'; }
version=$(candidate "linux-headers-$new-amd64")
case "$version" in ""|"(none)") die "apt has no linux-headers-$new-amd64 (apt-get update?)" ;; esac
for pkg in "linux-image-$new-amd64" "linux-image-$new-cloud-amd64" "linux-headers-$new-common"; do
    case "$(candidate "$pkg")" in
        "$version") ;;
        *) die "apt has no $pkg $version: headers and image must come from one ABI" ;;
    esac
done
step "moving $old ($old_version) -> $new ($version)"
apt-get install -y -q "linux-headers-$new-amd64" >/dev/null \
    || die "apt-get install linux-headers-$new-amd64 failed (run as root)"

# --- 2. the pin -----------------------------------------------------------
sed -i -e "s/^KCOURSE_ABI=.*/KCOURSE_ABI=$new/" \
       -e "s/^KCOURSE_DEBIAN_VERSION=.*/KCOURSE_DEBIAN_VERSION=$version/" data/kernel/pin.env

# --- 3. course modules, 4. data/kernel ------------------------------------
step "rebuilding the course modules"
sh scripts/build-modules.sh >/dev/null
step "extracting data/kernel"
sh data/kernel/extract.sh >/dev/null
step "data/kernel/structs.json from linux-image-$new-amd64's BTF"
"$PY" scripts/extract-structs.py >/dev/null

# --- 5. text naming the release --------------------------------------------
# Literal mentions in prose, comments and tests (6.1.0-56-amd64, 6.1.192-2). Not the
# re-recorded files (7), and not a line that cites kernel-facts.md: it quotes a figure
# measured on the release it names.
step "renaming $old -> $new and $old_version -> $version in the committed text"
git ls-files -z -- README.md docs data/*/README.md data/modules/README.md notebooks tests kcourse \
        ':!tests/scenarios/*.expected' ':!kcourse/lab/recordings.py' ':!*.ko' \
    | xargs -0 grep -lIZ -e "$old" -e "$old_version" 2>/dev/null \
    | xargs -0 -r sed -i -e "/kernel-facts\.md/!s/$old/$new/g" \
                         -e "/kernel-facts\.md/!s/$old_version/$version/g"

# --- 6. the bzImage fixture ------------------------------------------------
step "data/build/bzimage-amd64.json from linux-image-$new-amd64"
"$PY" -m kcourse.build.realimage >/dev/null

# --- 7. real-kernel expectations -------------------------------------------
step "preparing the lab for $new-amd64"
"$KCOURSE" lab-prepare >/dev/null
"$PY" -c "from kcourse.lab.tamper import make_course_copies; make_course_copies()"
for script in tests/scenarios/*.sh; do
    name=${script%.sh}
    step "recording $(basename "$name") on the real kernel"
    body=$(mktemp)
    (cd data/modules && "$KCOURSE" sim --real --transcript "$ROOT/$script") >"$body" 2>/dev/null \
        || true  # a script may end on a failing command: its [rc=N] is part of the transcript
    [ -s "$body" ] || die "the real kernel printed nothing for $script"
    # compare.normalise: 0x + 16 hex digits -> 0xADDR, a leading dmesg time -> [TIME]
    { grep '^#|' "$name.expected" 2>/dev/null || true
      sed -E -e 's/0x[0-9a-f]{16}/0xADDR/g' -e 's/^\[ *[0-9]+\.[0-9]{6}\] /[TIME] /' "$body"
    } >"$name.expected.new"
    mv "$name.expected.new" "$name.expected"
    rm -f "$body"
done
step "recording lesson 05's sessions"
"$PY" -c "from kcourse.lab.lesson import record; record()"

# --- 8. notebooks -----------------------------------------------------------
for nb in notebooks/*.ipynb; do
    step "executing $nb"
    "$ROOT/.venv/bin/jupyter" nbconvert --to notebook --execute --inplace "$nb" \
        >/dev/null 2>&1 || die "$nb failed to execute"
done

step "done in $(($(date +%s) - start)) s; what changed:"
git diff --stat
echo "move-kernel: review with git diff, run ./run test, then commit" >&2
