"""Static keys and jump labels (kernel/jump_label.c, arch/x86/kernel/jump_label.c).

A `struct static_key` (include/linux/jump_label.h) is `atomic_t enabled` at offset 0, then
the `type` word whose low bits say the key's initial value (JUMP_TYPE_TRUE) and whether it is
linked to other modules' entries. static_branch_likely/unlikely compile to a 2- or 5-byte
NOP or JMP at a site that the module's __jump_table lists: `{s32 code, s32 target, s64 key}`,
each a displacement from the field itself, the key's bit 0 the branch direction
(jump_entry_is_branch) and bit 1 "in init text" (masked off, as jump_entry_key does).

When a key's count goes 0 -> 1 or 1 -> 0, jump_label_update() rewrites every site of the
key: JUMP_LABEL_JMP when `enabled ^ branch`, else the NOP (jump_label_type), after checking
that the site holds what it should (__jump_label_patch; otherwise pr_crit and BUG()). The
sites are found in the __jump_table of every loaded module, which is where
jump_label_add_module links them from. Not modelled: the kernel's own static keys (none is
a kapi data symbol, so a module cannot name one), and the key's `entries` pointer, which
the kernel fills in at load and no module reads.
"""

from __future__ import annotations

import struct

from kcourse.kapi import kwarn
from kcourse.kapi.registry import data, function
from kcourse.kernel.kernel import SimulatorLimit
from kcourse.machine.address_space import BadAccess

ENABLED = 0  # struct static_key: atomic_t enabled, then the type/entries union
ENTRY = struct.Struct("<iiq")  # struct jump_entry (CONFIG_HAVE_ARCH_JUMP_LABEL_RELATIVE)
JMP8, JMP32 = 0xEB, 0xE9  # arch/x86/include/asm/text-patching.h
NOPS = {2: bytes([0x66, 0x90]), 5: bytes([0x0F, 0x1F, 0x44, 0x00, 0x00])}  # asm/nops.h
JUMP_LABEL_NOP, JUMP_LABEL_JMP = 0, 1


def _s32(value: int) -> int:
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value & 0x8000_0000 else value


def count(machine, key: int) -> int:
    return _s32(int.from_bytes(machine.space.read(key + ENABLED, 4), "little"))


def _set(machine, key: int, value: int) -> None:
    machine.space.write(key + ENABLED, (value & 0xFFFF_FFFF).to_bytes(4, "little"))


# where Debian's kernel has these WARN_ON_ONCEs' ud2 (tests/data/kapi4/jlprobe)
OFFSETS = {200: "+0x49/0x90", 231: "+0x6d/0x80", 279: "+0x2e/0x50"}


def _warn_once(call, line: int, function_name: str) -> None:
    """WARN_ON_ONCE at kernel/jump_label.c:<line>: one report per site per boot."""
    done = call.machine.objects.setdefault("jump_label_warned", set())
    if line not in done:
        done.add(line)
        kwarn.warn_on(call, f"kernel/jump_label.c:{line}", function_name,
                      offset=OFFSETS.get(line))


def entries(machine, key: int):
    """(code, target, branch) of every site of `key`, in the loaded modules' __jump_table."""
    space = machine.space
    for code in machine.codes:
        for sec in code.module.sections:
            if sec.name != "__jump_table" or not code.contains(sec.address):
                continue
            for at in range(sec.address, sec.address + sec.size - ENTRY.size + 1, ENTRY.size):
                site, target, k = ENTRY.unpack(space.read(at, ENTRY.size))
                if ((at + 8 + k) & ~3 & (1 << 64) - 1) == key:
                    yield at + site, at + 4 + target, k & 1


def _jump(addr: int, dest: int, size: int) -> bytes:
    """text_gen_insn(JMP8/JMP32_INSN_OPCODE, addr, dest)."""
    rel = dest - (addr + size)
    if size == 2:
        return bytes([JMP8, rel & 0xFF])
    return bytes([JMP32]) + (rel & 0xFFFF_FFFF).to_bytes(4, "little")


def _size(current: bytes) -> int:
    """arch_jump_entry_size: the length of the instruction at the site, 2 or 5 (BUG_ON)."""
    if current[:1] == bytes([JMP8]) or current[:2] == NOPS[2]:
        return 2
    if current[:1] == bytes([JMP32]) or current[:5] == NOPS[5]:
        return 5
    return 0


def update(call, key: int) -> None:
    """jump_label_update: every site of the key to its jump_label_type."""
    machine = call.machine
    enabled = count(machine, key) != 0  # static_key_enabled: count > 0, and -1 counts
    for addr, dest, branch in list(entries(machine, key)):
        kind = JUMP_LABEL_JMP if enabled ^ bool(branch) else JUMP_LABEL_NOP
        try:
            current = machine.space.read(addr, 5)
        except BadAccess:
            continue  # jump_label_can_update: init text that is gone
        size = _size(current)
        jump = _jump(addr, dest, size or 5)
        expect = NOPS.get(size, NOPS[5]) if kind == JUMP_LABEL_JMP else jump
        if not size or current[:size] != expect:
            where = machine.symbolize(addr) or hex(addr)
            call.kernel.log.printk(f"\0012jump_label: Fatal kernel bug, unexpected op at "
                                   f"{where} ({current.hex(' ')} != {expect.hex(' ')})) "
                                   f"size:{size} type:{kind}\n")
            raise SimulatorLimit("kcourse: the kernel BUG()s here (arch/x86/kernel/"
                                 "jump_label.c __jump_label_patch: a jump label site holds "
                                 "other bytes than it should); the BUG itself is not modelled")
        new = jump if kind == JUMP_LABEL_JMP else NOPS[size]
        machine.space.write(addr, new)  # text_poke_bp
        # unicorn keeps translated code: drop what it holds for the site (text_poke_bp's
        # sync_core on every CPU)
        machine.cpu.uc.ctl_remove_cache(addr, addr + size)


@data("bool static_key_initialized", "kernel/jump_label.c", 1)
def static_key_initialized(machine, address):
    return b"\x01"  # jump_label_init() ran at boot


@function("int static_key_count(struct static_key *key)", "kernel/jump_label.c")
def static_key_count(call, key):
    n = count(call.machine, key)
    return n if n >= 0 else 1


@function("bool static_key_fast_inc_not_disabled(struct static_key *key)",
          "kernel/jump_label.c")
def static_key_fast_inc_not_disabled(call, key):
    v = count(call.machine, key)
    if v <= 0 or v + 1 > 0x7FFF_FFFF:
        return False
    _set(call.machine, key, v + 1)
    return True


def _slow_inc(call, key) -> bool:
    """static_key_slow_inc_cpuslocked."""
    if static_key_fast_inc_not_disabled(call, key):
        return True
    if count(call.machine, key) == 0:
        _set(call.machine, key, -1)
        update(call, key)
        _set(call.machine, key, 1)
        return True
    if not static_key_fast_inc_not_disabled(call, key):
        _warn_once(call, 177, "static_key_slow_inc_cpuslocked")
        return False
    return True


@function("bool static_key_slow_inc(struct static_key *key)", "kernel/jump_label.c")
def static_key_slow_inc(call, key):
    return _slow_inc(call, key)


def _enable(call, key, name: str) -> None:
    machine = call.machine
    if count(machine, key) > 0:
        if count(machine, key) != 1:
            _warn_once(call, 200, name)
        return
    if count(machine, key) == 0:
        _set(machine, key, -1)
        update(call, key)
        _set(machine, key, 1)


@function("void static_key_enable(struct static_key *key)", "kernel/jump_label.c")
def static_key_enable(call, key):
    _enable(call, key, "static_key_enable_cpuslocked")


@function("void static_key_enable_cpuslocked(struct static_key *key)", "kernel/jump_label.c")
def static_key_enable_cpuslocked(call, key):
    _enable(call, key, "static_key_enable_cpuslocked")


def _disable(call, key) -> None:
    machine = call.machine
    if count(machine, key) != 1:
        if count(machine, key) != 0:
            _warn_once(call, 231, "static_key_disable_cpuslocked")
        return
    _set(machine, key, 0)
    update(call, key)


@function("void static_key_disable(struct static_key *key)", "kernel/jump_label.c")
def static_key_disable(call, key):
    _disable(call, key)


@function("void static_key_disable_cpuslocked(struct static_key *key)", "kernel/jump_label.c")
def static_key_disable_cpuslocked(call, key):
    _disable(call, key)


def _dec_not_one(call, key) -> bool:
    """static_key_dec_not_one: False when the caller must take the slow path."""
    v = count(call.machine, key)
    if v < 0:
        _warn_once(call, 273, "static_key_dec_not_one")
    if v == 0:
        _warn_once(call, 279, "static_key_dec_not_one")
        return True
    if v <= 1:
        return False
    _set(call.machine, key, v - 1)
    return True


@function("void static_key_slow_dec(struct static_key *key)", "kernel/jump_label.c")
def static_key_slow_dec(call, key):
    """__static_key_slow_dec_cpuslocked."""
    if _dec_not_one(call, key):
        return
    val = count(call.machine, key)
    if val == -1:
        _warn_once(call, 303, "__static_key_slow_dec_cpuslocked")
        return
    if val == 0:
        _warn_once(call, 308, "__static_key_slow_dec_cpuslocked")
        return
    _set(call.machine, key, val - 1)
    if val - 1 == 0:
        update(call, key)
