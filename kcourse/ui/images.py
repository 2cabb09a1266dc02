"""The simulated loader's view of a .ko (kcourse.kernel.image.ModuleImage), for panels that
show what the kernel would do with a file before it is loaded."""

from __future__ import annotations

from kcourse.errors import KcourseError


def module_image(path):
    """The ModuleImage of a file, or None when the loader model cannot read it."""
    from kcourse.kernel.image import parse_image, read_source, signature_status

    try:
        source, raw = read_source(path)
        elf_len, status, signer = signature_status(raw)
        return parse_image(source, raw, elf_len, status, signer)
    except (KcourseError, ValueError, IndexError, UnicodeError, KeyError):
        return None
