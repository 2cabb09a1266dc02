"""kmemleak's view of a MemoryLedger: the report of `cat /sys/kernel/debug/kmemleak`.

After a scan, kmemleak lists every object that no pointer in memory refers to any more
(mm/kmemleak.c:349-371 print_unreferenced), and logs one summary line. Here the objects no one
refers to are those whose owner was unloaded without freeing them (MemoryLedger.unreferenced).
What it tracks and how it prints it (Linux 6.1):

- kmalloc objects with the cache's object_size (mm/slab.h:745), large kmallocs and vmalloc
  areas with their size; __get_free_pages memory is not tracked at all;
- each object: address and size, the comm and pid of the task that allocated it and the
  jiffies then, a hex dump of at most HEX_MAX_LINES * HEX_ROW_SIZE = 32 bytes
  (kmemleak.c:189-195, lib/hexdump.c), and the backtrace saved at allocation time with
  hashed pointers (%p, lib/vsprintf.c ptr_to_id).

Needs a kernel with CONFIG_DEBUG_KMEMLEAK, which Debian's 6.1 config does not set
(.config:10365): the course shows what a debug kernel would say.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kcourse.kernel.memory import Allocation, MemoryLedger

HEX_BYTES = 32  # HEX_MAX_LINES * HEX_ROW_SIZE (kmemleak.c:189-195)
INIT_PATH = ["do_one_initcall+0x59/0x230", "do_init_module+0x4a/0x200",
             "__do_sys_finit_module+0xac/0x120"]
SYSCALL_ENTRY = ["do_syscall_64+0x55/0xb0", "entry_SYSCALL_64_after_hwframe+0x6e/0xd8"]


def report(ledger: MemoryLedger, loaded: set[str] | None = None) -> str:
    """The report text: one block per unreferenced object, oldest first."""
    out = []
    for a in sorted(ledger.unreferenced(loaded), key=lambda a: a.id):
        if a.kind == "pages":
            continue
        size = a.allocated if a.cache or a.kind == "vmalloc" else a.requested
        length = min(size, HEX_BYTES)
        data = ledger.contents(a, length)
        out.append(f"unreferenced object 0x{a.address:016x} (size {size}):")
        out.append(f'  comm "{a.comm}", pid {a.pid}, jiffies {a.jiffies}')
        out.append(f"  hex dump (first {length} bytes):")
        out.extend("    " + hexdump_row(data[i:i + 16]) for i in range(0, length, 16))
        out.append("  backtrace:")
        out.extend(f"    [<{hashed(ledger.seed, a.id, i)}>] {frame}"
                   for i, frame in enumerate(backtrace(a)))
    return "\n".join(out) + ("\n" if out else "")


def summary(ledger: MemoryLedger, loaded: set[str] | None = None) -> str:
    """The dmesg line after a scan (mm/kmemleak.c kmemleak_scan, pr_fmt "kmemleak: ")."""
    n = sum(1 for a in ledger.unreferenced(loaded) if a.kind != "pages")
    return f"kmemleak: {n} new suspected memory leaks (see /sys/kernel/debug/kmemleak)"


def hexdump_row(data: bytes) -> str:
    """lib/hexdump.c hex_dump_to_buffer(rowsize=16, groupsize=1, ascii=true) for one row."""
    hexpart = " ".join(f"{b:02x}" for b in data)
    ascii_column = 16 * 2 + 16 // 1 + 1  # hexdump.c:148
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in data)
    return hexpart.ljust(ascii_column) + text


def hashed(seed: int, ident: int, frame: int) -> str:
    """%p prints a hashed pointer (lib/vsprintf.c ptr_to_id): 16 hex digits, top 32 bits 0."""
    return f"{random.Random(seed * 1_000_003 + ident * 101 + frame).getrandbits(32):016x}"


def backtrace(alloc: Allocation) -> list[str]:
    """The call chain kmemleak saves at allocation time (function sizes are model values):
    the allocator, the module's call site, the init path when a module loader allocated
    (in its init function), then the syscall entry."""
    first = {
        "vmalloc": ["__vmalloc_node_range+0x4f6/0x8a0", "vmalloc+0x4b/0x60"],
        "pages": ["__get_free_pages+0xd/0x40"],
    }.get(alloc.kind, ["kmalloc_trace+0x26/0x90"] if alloc.cache else
          ["kmalloc_large+0x1e/0xb0"])
    caller = [alloc.site] if alloc.site else []
    tail = INIT_PATH if alloc.comm in ("insmod", "modprobe") else []
    return first + caller + tail + SYSCALL_ENTRY
