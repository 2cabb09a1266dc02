"""The ELF toolkit for kernel modules: KoFile, modinfo and objdump views, symbol resolution.

Submodules are imported on use (`from kcourse.elf.kofile import KoFile`) so that
`kcourse modinfo` over thousands of files starts fast.
"""
