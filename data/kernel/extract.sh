#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Regenerate data/kernel/ from a Debian kernel headers tree:
#   Module.symvers.xz  the kernel's exported symbols (CRC, name, vmlinux, type, namespace)
#   config.xz          the kernel's .config
#   kernel.json        the facts the simulator needs, each read from the headers
# and print the provenance figures that README.md quotes.
#
# Usage: data/kernel/extract.sh [KDIR]
#   KDIR defaults to /usr/src/linux-headers-<the pinned release, pin.env>.
# Needs: xz, sha256sum, awk, dpkg-query; modinfo (kmod) and a built
# data/modules/hello/hello.ko to cross-check the vermagic string.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
KDIR="${1:-}"
if [ -z "$KDIR" ]; then
    . "$HERE/pin.env"
    KDIR="/usr/src/linux-headers-$KCOURSE_ABI-amd64"
fi
[ -f "$KDIR/Module.symvers" ] || { echo "extract: no $KDIR/Module.symvers" >&2; exit 1; }
pkg=$(basename "$KDIR")
# The -amd64 package holds .config, Module.symvers and generated headers; the
# arch-independent headers (vermagic.h, page_64_types.h) are in -common.
COMMON=$(sed -n 's|^include \(.*\)/Makefile$|\1|p' "$KDIR/Makefile")
CONFIG="$KDIR/.config"

cfg() {  # value of a config option: y, m, a number, a "string", or null when unset
    v=$(sed -n "s/^$1=\(.*\)$/\1/p" "$CONFIG")
    if [ -z "$v" ]; then echo null; else case "$v" in \"*) echo "$v" ;; *) echo "\"$v\"" ;; esac; fi
}
isset() { grep -q "^$1=y$" "$CONFIG"; }

# UTS_RELEASE (what uname -r prints, and the first word of vermagic) is in
# include/generated/utsrelease.h. Debian's include/config/kernel.release holds
# the upstream version instead (6.1.x), so both are recorded.
release=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$KDIR/include/generated/utsrelease.h")
upstream=$(cat "$KDIR/include/config/kernel.release")

# VERMAGIC_STRING, built exactly as include/linux/vermagic.h does:
#   UTS_RELEASE " " MODULE_VERMAGIC_SMP MODULE_VERMAGIC_PREEMPT
#   MODULE_VERMAGIC_MODULE_UNLOAD MODULE_VERMAGIC_MODVERSIONS
#   MODULE_ARCH_VERMAGIC MODULE_RANDSTRUCT
vermagic="$release "
isset CONFIG_SMP && vermagic="${vermagic}SMP "
if isset CONFIG_PREEMPT_BUILD; then vermagic="${vermagic}preempt "
elif isset CONFIG_PREEMPT_RT; then vermagic="${vermagic}preempt_rt "; fi
isset CONFIG_MODULE_UNLOAD && vermagic="${vermagic}mod_unload "
isset CONFIG_MODVERSIONS && vermagic="${vermagic}modversions "
# MODULE_ARCH_VERMAGIC is "" on x86_64 (arch/x86/include/asm/vermagic.h).
isset CONFIG_X86_64 || { echo "extract: only x86_64 is handled" >&2; exit 1; }
# MODULE_RANDSTRUCT is set only with a randstruct plugin (RANDSTRUCT defined).
isset CONFIG_RANDSTRUCT_NONE || { echo "extract: RANDSTRUCT kernels are not handled" >&2; exit 1; }

ko="$HERE/../modules/hello/hello.ko"
if [ -f "$ko" ] && command -v modinfo >/dev/null; then
    built=$(modinfo -F vermagic "$ko")
    # modinfo -F prints the value as stored, trailing space included.
    [ "$built" = "$vermagic" ] || { echo "extract: vermagic '$vermagic' but hello.ko has '$built'" >&2; exit 1; }
fi

# PAGE_SIZE = 1 << PAGE_SHIFT (arch/x86/include/asm/page_types.h);
# THREAD_SIZE = PAGE_SIZE << (2 + KASAN_STACK_ORDER) (asm/page_64_types.h),
# KASAN_STACK_ORDER = 1 with CONFIG_KASAN, else 0.
page_shift=$(sed -n 's/^#define PAGE_SHIFT[[:space:]]*\([0-9]*\)$/\1/p' "$COMMON/arch/x86/include/asm/page_types.h")
grep -q '^#define THREAD_SIZE_ORDER[[:space:]]*(2 + KASAN_STACK_ORDER)$' \
    "$COMMON/arch/x86/include/asm/page_64_types.h" || { echo "extract: THREAD_SIZE_ORDER changed" >&2; exit 1; }
kasan=0; isset CONFIG_KASAN && kasan=1
page_size=$((1 << page_shift))
thread_size=$((page_size << (2 + kasan)))

symvers="$KDIR/Module.symvers"
layout_crc=$(awk -F'\t' '$2 == "module_layout" && $3 == "vmlinux" {print $1}' "$symvers")
n_all=$(wc -l <"$symvers")
n_plain=$(awk -F'\t' '$4 == "EXPORT_SYMBOL"' "$symvers" | wc -l)
n_gpl=$(awk -F'\t' '$4 == "EXPORT_SYMBOL_GPL"' "$symvers" | wc -l)
n_ns=$(awk -F'\t' '$5 != ""' "$symvers" | wc -l)
version=$(dpkg-query -W -f '${Version}' "$pkg")

xz -9 -T1 -c "$symvers" >"$HERE/Module.symvers.xz"
xz -9 -T1 -c "$CONFIG" >"$HERE/config.xz"

cat >"$HERE/kernel.json" <<EOF
{
  "package": "$pkg",
  "package_version": "$version",
  "release": "$release",
  "upstream_version": "$upstream",
  "vermagic": "$vermagic",
  "module_layout_crc": "$layout_crc",
  "page_size": $page_size,
  "thread_size": $thread_size,
  "exports": {"total": $n_all, "EXPORT_SYMBOL": $n_plain, "EXPORT_SYMBOL_GPL": $n_gpl, "namespaced": $n_ns},
  "config": {
    "CONFIG_MODULES": $(cfg CONFIG_MODULES),
    "CONFIG_MODULE_UNLOAD": $(cfg CONFIG_MODULE_UNLOAD),
    "CONFIG_MODULE_FORCE_LOAD": $(cfg CONFIG_MODULE_FORCE_LOAD),
    "CONFIG_MODULE_FORCE_UNLOAD": $(cfg CONFIG_MODULE_FORCE_UNLOAD),
    "CONFIG_MODVERSIONS": $(cfg CONFIG_MODVERSIONS),
    "CONFIG_MODULE_SRCVERSION_ALL": $(cfg CONFIG_MODULE_SRCVERSION_ALL),
    "CONFIG_MODULE_SIG": $(cfg CONFIG_MODULE_SIG),
    "CONFIG_MODULE_SIG_FORCE": $(cfg CONFIG_MODULE_SIG_FORCE),
    "CONFIG_MODULE_SIG_ALL": $(cfg CONFIG_MODULE_SIG_ALL),
    "CONFIG_MODULE_SIG_HASH": $(cfg CONFIG_MODULE_SIG_HASH),
    "CONFIG_MODULE_COMPRESS_NONE": $(cfg CONFIG_MODULE_COMPRESS_NONE),
    "CONFIG_SMP": $(cfg CONFIG_SMP),
    "CONFIG_PREEMPT_BUILD": $(cfg CONFIG_PREEMPT_BUILD),
    "CONFIG_PREEMPT_VOLUNTARY": $(cfg CONFIG_PREEMPT_VOLUNTARY),
    "CONFIG_PREEMPT_DYNAMIC": $(cfg CONFIG_PREEMPT_DYNAMIC),
    "CONFIG_PREEMPT_RT": $(cfg CONFIG_PREEMPT_RT),
    "CONFIG_RETPOLINE": $(cfg CONFIG_RETPOLINE),
    "CONFIG_VMAP_STACK": $(cfg CONFIG_VMAP_STACK),
    "CONFIG_KASAN": $(cfg CONFIG_KASAN),
    "CONFIG_FRAME_WARN": $(cfg CONFIG_FRAME_WARN),
    "CONFIG_HZ": $(cfg CONFIG_HZ),
    "CONFIG_BUILD_SALT": $(cfg CONFIG_BUILD_SALT)
  }
}
EOF

echo "package:  $pkg $version"
echo "sha256:   $(sha256sum "$symvers" | cut -d' ' -f1)  Module.symvers ($n_all lines)"
echo "sha256:   $(sha256sum "$CONFIG" | cut -d' ' -f1)  .config ($(wc -l <"$CONFIG") lines)"
echo "xz:       $(xz --version | head -n 1)"
