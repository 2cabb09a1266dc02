#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Regenerate data/kernel/structs.json: the pinned kernel's struct layouts and enum values
# (from the BTF in Debian's vmlinux, read with pahole) and its exported data symbols (from
# vmlinux's __ksymtab), with their provenance. See data/kernel/README.md.
#
# Usage: scripts/extract-structs.sh [VMLINUX]
#   VMLINUX defaults to the lab's vmlinux for the pinned release (pin.env), unpacked from
#   linux-image-<release>'s vmlinuz into ~/.cache/kcourse/lab/<release>/ (apt-get download,
#   no root) if it is not there yet.
# Needs: pahole (apt-get install dwarves), python3 with kcourse (the checkout's .venv).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY=python3
command -v pahole >/dev/null || { echo "extract-structs: pahole is not installed (apt-get install dwarves)" >&2; exit 1; }
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "$PY" -m kcourse.build.kernel_layouts "$@"
