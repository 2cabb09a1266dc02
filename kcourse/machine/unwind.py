"""The ORC unwinder over module code (arch/x86/kernel/unwind_orc.c), for stack dumps.

Debian's 6.1 unwinds with ORC (CONFIG_UNWINDER_ORC=y): objtool leaves every module two
tables, .orc_unwind_ip (32-bit offsets to code addresses, relocated at load) and .orc_unwind
(one struct orc_entry per address: how far above the stack pointer the caller's frame
starts there, arch/x86/include/asm/orc_types.h). From a return address into a module
function and the stack pointer at that return, the caller's return address sits 8 bytes
below `sp + sp_offset`; repeating that while the address stays in module code gives the
module frames a dump_stack() names (the kernel's own frames below come from recordings:
kcourse.kernel.sched_reports). A frame the tables do not describe the simple way (a
frame-pointer based one, a signal frame) ends the walk.
"""

from __future__ import annotations

import bisect
import struct

ORC_ENTRY_SIZE = 6
ORC_REG_SP, ORC_TYPE_CALL = 5, 0
MAX_FRAMES = 32


def _tables(machine, code) -> tuple[list[int], list[tuple[int, int, int]]]:
    """(sorted code addresses, their (sp_offset, sp_reg, type)), read once per module."""
    cache = machine.objects.setdefault("orc_tables", {})
    if id(code) in cache:
        return cache[id(code)]
    where = {code.module.image.sections[s.index].name: (s.address, s.size)
             for s in code.module.sections}
    table: list[tuple[int, tuple[int, int, int]]] = []
    if ".orc_unwind_ip" in where and ".orc_unwind" in where:
        ip_at, ip_size = where[".orc_unwind_ip"]
        orc_at, _ = where[".orc_unwind"]
        offsets = struct.unpack(f"<{ip_size // 4}i", machine.space.read(ip_at, ip_size))
        raw = machine.space.read(orc_at, len(offsets) * ORC_ENTRY_SIZE)
        for i, offset in enumerate(offsets):
            sp_offset, _bp, bits = struct.unpack_from("<hhH", raw, i * ORC_ENTRY_SIZE)
            table.append((ip_at + 4 * i + offset, (sp_offset, bits & 0xF, (bits >> 8) & 3)))
    table.sort()
    result = ([ip for ip, _ in table], [entry for _, entry in table])
    cache[id(code)] = result
    return result


def module_frames(machine, return_address: int, rsp: int) -> list[str]:
    """%pS of each module frame, innermost first, from a call whose return address sits at
    `rsp` (as at the first instruction of the called kernel function)."""
    frames: list[str] = []
    ip, sp = return_address, rsp + 8
    for _ in range(MAX_FRAMES):
        code = next((c for c in machine.codes if c.contains(ip)), None)
        if code is None:
            break
        frames.append(code.symbolize(ip))
        ips, entries = _tables(machine, code)
        at = bisect.bisect_right(ips, ip - 1) - 1  # orc_find(ip - 1) for a return address
        if at < 0:
            break
        sp_offset, sp_reg, kind = entries[at]
        if sp_reg != ORC_REG_SP or kind != ORC_TYPE_CALL:
            break
        sp += sp_offset
        try:
            ip = machine.space.read_u64(sp - 8)
        except Exception:  # noqa: BLE001 - an unreadable stack ends the walk
            break
    return frames
