"""Static keys and jump labels (kcourse.kapi.jump_label) against Debian's real kernel and the
kernel source.

- jlprobe (tests/data/kapi4/jlprobe, recorded on the real kernel under QEMU by
  `scripts/record-kapifs.py --dir tests/data/kapi4 jlprobe`): static_key_count and both
  directions of static_branch_likely/unlikely on a false and a true key through enable,
  disable, inc and dec, and the WARN_ON_ONCEs of kernel/jump_label.c (lines 200, 231, 279)
  on an unbalanced key, with the taint they leave. The WARNING lines are compared without
  the pid; their +offset/size in the kernel function is the recording's.
- LKMPG's static_key.ko (data/lkmpg, built against the pinned headers): the bytes at its
  jump site, read from the emulated memory, are those arch/x86/kernel/jump_label.c writes:
  `e9 <rel32>` to the __jump_table's target once the key is on (text_gen_insn
  JMP32_INSN_OPCODE), BYTES_NOP5 (arch/x86/include/asm/nops.h) once it is off. The site
  and target come from pyelftools' reading of .rela__jump_table, not from kcourse.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

from conftest import need
from kcourse.backend import format_transcript
from kcourse.build.cell import build_cell
from kcourse.lab.compare import normalise
from kcourse.shell.core import Shell

ROOT = Path(__file__).resolve().parent.parent
PROBES = Path(__file__).parent / "data" / "kapi4"
STATIC_KEY = ROOT / "data" / "lkmpg" / "static_key" / "static_key.ko"
NOP5 = bytes([0x0F, 0x1F, 0x44, 0x00, 0x00])


def expected(name: str) -> str:
    text = (PROBES / name / "real.expected").read_text()
    return "".join(line for line in text.splitlines(True) if not line.startswith("#|"))


def simulate(name: str, tmp_path: Path) -> str:
    built = build_cell(name, (PROBES / name / f"{name}.c").read_text(), base=tmp_path)
    need(built.ok, built.problem or built.output)
    shell = Shell(workdir=str(built.ko.parent))
    return normalise(format_transcript(shell.run_script((PROBES / name / "script.sh")
                                                        .read_text())))


def _no_pid(text: str) -> str:
    return re.sub(r"(WARNING: CPU: \d+ PID: )\d+", r"\1PID", text)


def test_jlprobe_matches_the_real_kernel(tmp_path):
    real = expected("jlprobe")
    assert "at kernel/jump_label.c:279 static_key_dec_not_one+" in real
    assert _no_pid(simulate("jlprobe", tmp_path)) == _no_pid(real)


def _jump_entry(path: Path) -> tuple[int, int]:
    """(site offset in .text, target offset in .text.unlikely) of static_key.ko's only
    __jump_table entry, from its relocations: code and target are PC32 to section+addend."""
    with path.open("rb") as f:
        elf = ELFFile(f)
        rela = elf.get_section_by_name(".rela__jump_table")
        assert isinstance(rela, RelocationSection)
        symtab = elf.get_section(rela["sh_link"])
        by_offset = {}
        for r in rela.iter_relocations():
            sym = symtab.get_symbol(r["r_info_sym"])
            section = elf.get_section(sym["st_shndx"]).name
            by_offset[r["r_offset"]] = (section, r["r_addend"])
    assert by_offset[0][0] == ".text" and by_offset[4][0] == ".text.unlikely"
    return by_offset[0][1], by_offset[4][1]


def _site_bytes(shell: Shell, section: str, offset: int, size: int = 5) -> bytes:
    machine = shell.kernel.emulator
    code = next(c for c in machine.codes if c.module.name == "static_key")
    base = next(s.address for s in code.module.sections if s.name == section)
    return machine.space.read(base + offset, size)


def _section_address(shell: Shell, section: str) -> int:
    code = next(c for c in shell.kernel.emulator.codes if c.module.name == "static_key")
    return next(s.address for s in code.module.sections if s.name == section)


def test_enable_and_disable_patch_the_site_as_arch_jump_label_does():
    site, target = _jump_entry(STATIC_KEY)
    shell = Shell(workdir=str(STATIC_KEY.parent))
    shell.run_script("insmod static_key.ko\n")
    assert _site_bytes(shell, ".text", site) == NOP5  # as objtool left it: the key is off
    shell.run_script("echo enable > /dev/key_state\n")
    at = _section_address(shell, ".text") + site
    dest = _section_address(shell, ".text.unlikely") + target
    assert _site_bytes(shell, ".text", site) == b"\xe9" + struct.pack("<i", dest - (at + 5))
    shell.run_script("echo disable > /dev/key_state\n")
    assert _site_bytes(shell, ".text", site) == NOP5


def test_a_site_that_holds_other_bytes_is_the_kernels_fatal_bug():
    """__jump_label_patch: memcmp(addr, expect) fails -> pr_crit("jump_label: Fatal kernel
    bug, unexpected op at ...") and BUG(); the BUG is not modelled, the load stops there."""
    site, _target = _jump_entry(STATIC_KEY)
    shell = Shell(workdir=str(STATIC_KEY.parent))
    shell.run_script("insmod static_key.ko\n")
    machine = shell.kernel.emulator
    machine.space.write(_section_address(shell, ".text") + site, b"\x90" * 5)
    results = shell.run_script("echo enable > /dev/key_state\ndmesg\n")
    text = format_transcript(results)
    assert "jump_label: Fatal kernel bug, unexpected op at device_open+0x60/" in text
    assert "the BUG itself is not modelled" in text
