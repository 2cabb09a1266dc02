"""KoFile against the real tools and the build's own outputs.

References: readelf / nm (binutils), kmod's modinfo and depmod, the files kbuild's modpost
wrote next to each course module (<name>.mod.c: the __versions table and the struct module
initialiser; Module.symvers: the exports with CRC, licence and namespace), and pyelftools
as an independent ELF parser for the bulk views.
"""

from __future__ import annotations

import gzip
import lzma
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import zstandard

from conftest import course_module_names, need_tool
from kcourse.elf.kofile import KoFile
from kcourse.elf.sample import diverse_sample
from kcourse.elf.signature import fast_pkcs7, find_trailer, parse_pkcs7
from kcourse.errors import KoFormatError
from kcourse.paths import course_module, modules_dir

COURSE = course_module_names()


def run(*cmd: str, cwd=None) -> str:
    need_tool(cmd[0])
    return subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=cwd).stdout


@pytest.fixture(scope="module")
def debian_sample(debian_modules_dir) -> list[Path]:
    return diverse_sample(debian_modules_dir)


def mod_c(name: str) -> str:
    return (modules_dir() / name / f"{name}.mod.c").read_text()


# ---------------------------------------------------------------- header, sections, symbols


@pytest.mark.parametrize("name", COURSE)
def test_header_matches_readelf(name):
    path = course_module(name)
    text = run("readelf", "-h", str(path))
    ko = KoFile(path)
    assert re.search(r"Class:\s+ELF64", text) and ko.header.elfclass == 64
    assert re.search(r"Type:\s+REL ", text) and ko.header.type == "ET_REL"
    assert ko.header.machine == "EM_X86_64" and ko.header.e_machine == 62
    assert f"Number of section headers:         {ko.header.shnum}\n" in text
    assert f"Section header string table index: {ko.header.shstrndx}\n" in text


def _pyelftools_views(ko: KoFile):
    elf = ko.elf
    sections = [(i, s.name, s["sh_type"], s["sh_flags"], s["sh_offset"], s["sh_size"],
                 s["sh_addralign"], s["sh_link"], s["sh_info"])
                for i, s in enumerate(elf.iter_sections())]
    symtab = elf.get_section_by_name(".symtab")
    symbols = [(s.name, s["st_value"], s["st_size"], s["st_info"]["type"].replace("STT_", ""),
                s["st_info"]["bind"].replace("STB_", ""), s["st_shndx"])
               for s in symtab.iter_symbols()]
    relocs = []
    for sec in elf.iter_sections():
        if sec["sh_type"] == "SHT_RELA":
            for r in sec.iter_relocations():
                relocs.append((r["r_offset"], r["r_info_type"], r["r_addend"],
                               r["r_info_sym"]))
    return sections, symbols, relocs


def _shndx(value):
    return {"SHN_UNDEF": 0, "SHN_ABS": 0xFFF1, "SHN_COMMON": 0xFFF2}.get(value, value)


def test_sections_symbols_relocations_agree_with_pyelftools(debian_sample):
    paths = [course_module(n) for n in COURSE] + debian_sample[:10]
    for path in paths:
        ko = KoFile(path)
        sections, symbols, relocs = _pyelftools_views(ko)
        ours = [(s.index, s.name, s.offset, s.size, s.align, s.link, s.info)
                for s in ko.sections]
        assert ours == [(i, n, off, size, al, link, info)
                        for i, n, _t, _f, off, size, al, link, info in sections], path
        assert [(s.name, s.value, s.size, s.type, s.bind, s.shndx) for s in ko.symbols] == [
            (n, v, sz, t, b, _shndx(x)) for n, v, sz, t, b, x in symbols], path
        assert [(r.offset, r.type, r.addend, r.symbol_index) for r in ko.relocations] == relocs


@pytest.mark.parametrize("name", COURSE)
def test_undefined_symbols_match_nm(name):
    path = course_module(name)
    lines = run("nm", "-u", "-p", str(path)).splitlines()
    assert KoFile(path).undefined_symbols == [line.split()[-1] for line in lines]


def test_undefined_symbols_of_hello_include_printk():
    # hello.c calls pr_info(), which is printk(), which is the _printk symbol since 5.15
    # (include/linux/printk.h: #define printk(fmt, ...) printk_index_wrap(_printk, ...)).
    assert "_printk" in KoFile(course_module("hello")).undefined_symbols


# ---------------------------------------------------------------- .modinfo and __versions


@pytest.mark.parametrize("name", COURSE)
def test_modinfo_pairs_match_kmod(name):
    path = str(course_module(name))
    fields = run("modinfo", "-0", path).split("\0")[1:-1]  # drop filename and the empty tail
    pairs = [tuple(f.split("=", 1)) for f in fields if "=" in f]
    ours = [(k, v) for k, v in KoFile(path).modinfo if k not in ("parm", "parmtype")]
    assert ours == pairs[: len(ours)]
    ko = KoFile(path)
    assert ko.name == name == ko.modinfo_get("name")
    assert ko.modinfo_get("license") == run("modinfo", "-F", "license", path).strip()


@pytest.mark.parametrize("name", COURSE)
def test_versions_match_the_mod_c_modpost_wrote(name):
    expected = {sym: int(crc, 16) for crc, sym in
                re.findall(r'\{ (0x[0-9a-f]+), "([^"]+)" \}', mod_c(name))}
    versions = KoFile(course_module(name)).versions
    assert versions == expected
    assert list(versions) == list(expected)  # section order
    assert "module_layout" in versions


# ---------------------------------------------------------------- exports


def test_provider_exports_match_its_module_symvers():
    ko = KoFile(course_module("provider"))
    expected = {}
    for line in (modules_dir() / "provider" / "Module.symvers").read_text().splitlines():
        crc, name, _module, kind, ns = line.split("\t")
        expected[name] = (int(crc, 16), kind == "EXPORT_SYMBOL_GPL", ns or None)
    assert {e.name: (e.crc, e.gpl_only, e.namespace) for e in ko.exports} == expected
    assert any(e.gpl_only for e in ko.exports) and any(not e.gpl_only for e in ko.exports)
    assert any(e.namespace for e in ko.exports)


def test_consumer_imports_provider_crcs():
    """modpost copied provider's export CRCs into consumer's __versions."""
    provider = {e.name: e.crc for e in KoFile(course_module("provider")).exports}
    consumer = KoFile(course_module("consumer")).versions
    shared = set(provider) & set(consumer)
    assert shared and all(provider[s] == consumer[s] for s in shared)
    assert KoFile(course_module("hello")).exports == []


def test_debian_exports_match_depmod_and_importers(debian_sample, debian_modules_dir,
                                                   tmp_path):
    """Names: what kmod's depmod lists in modules.symbols. CRCs, namespaces, licences: what
    modpost put into the modules that import them."""
    depmod = need_tool("depmod")
    release = debian_modules_dir.name
    tree = tmp_path / "lib" / "modules" / release / "kernel"
    tree.mkdir(parents=True)
    exporters = [p for p in debian_sample if KoFile(p).exports][:8]
    assert len(exporters) >= 3
    for path in exporters:
        shutil.copy(path, tree / path.name)
    subprocess.run([depmod, "-b", str(tmp_path), release], check=True, capture_output=True)
    symbols_file = tmp_path / "lib" / "modules" / release / "modules.symbols"
    listed: dict[str, set[str]] = {}
    for line in symbols_file.read_text().splitlines():
        if line.startswith("alias symbol:"):
            _, sym, mod = line.split()
            listed.setdefault(mod, set()).add(sym[len("symbol:"):])
    exports = {}
    for path in exporters:
        ko = KoFile(path)
        assert {e.name for e in ko.exports} == listed[ko.name], path
        exports.update({e.name: e for e in ko.exports})
    checked = 0
    gpl_ok = {"GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL",
              "Dual MPL/GPL"}
    for path in sorted(debian_modules_dir.rglob("*.ko")):
        importer = KoFile(path)
        for sym, crc in importer.versions.items():
            export = exports.get(sym)
            if export is None:
                continue
            checked += 1
            assert crc == export.crc, (path, sym)
            if export.namespace:
                assert export.namespace in importer.modinfo_all("import_ns"), (path, sym)
            if export.gpl_only:
                assert importer.modinfo_get("license") in gpl_ok, (path, sym)
    assert checked >= 10


# ---------------------------------------------------------------- struct module


@pytest.mark.parametrize("name", COURSE)
def test_this_module_matches_mod_c(name):
    text = mod_c(name)
    tm = KoFile(course_module(name)).this_module
    assert tm.name == name  # .name = KBUILD_MODNAME
    assert tm.init == ("init_module" if ".init = init_module" in text else None)
    assert tm.exit == ("cleanup_module" if ".exit = cleanup_module" in text else None)


def test_noexit_has_no_exit_and_hello_has_both():
    assert KoFile(course_module("noexit")).this_module.exit is None
    tm = KoFile(course_module("hello")).this_module
    assert (tm.init, tm.exit) == ("init_module", "cleanup_module")


def test_this_module_name_of_debian_modules(debian_sample):
    for path in debian_sample:
        ko = KoFile(path)
        assert ko.this_module.name == run("modinfo", "-F", "name", str(path)).strip()


# ---------------------------------------------------------------- signature


def _kmod_hex(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", "").replace("\n", "").replace("\t", ""))


def test_signature_matches_kmod(debian_sample, tmp_path):
    for path in debian_sample[:8]:
        ko = KoFile(path)
        sig = ko.signature

        def field(name, p=path):
            return run("modinfo", "-F", name, str(p)).rstrip("\n")

        assert sig.id_type == field("sig_id") == "PKCS#7"
        assert sig.signer == field("signer")
        assert sig.hash == field("sig_hashalgo")
        assert sig.key_id == _kmod_hex(field("sig_key"))
        assert sig.signature == _kmod_hex(field("signature"))
        blob = ko.raw[ko.elf_size : ko.elf_size + (len(ko.raw) - ko.elf_size - 40)]
        assert fast_pkcs7(blob) == parse_pkcs7(blob)
        # Without the appended data it is the same ELF file, unsigned (kmod shows no sig_id).
        stripped = tmp_path / path.name
        stripped.write_bytes(ko.raw[: ko.elf_size])
        assert field("sig_id", stripped) == ""
        assert field("vermagic", stripped) == field("vermagic")


def test_course_modules_are_unsigned():
    for name in COURSE:
        ko = KoFile(course_module(name))
        assert ko.signature is None and find_trailer(ko.raw) is None
        assert ko.elf_size == len(ko.raw)
        assert run("modinfo", "-F", "sig_id", str(course_module(name))) == ""


# ---------------------------------------------------------------- files and compression


def test_compressed_files_give_the_same_image(tmp_path):
    src = course_module("hello")
    data = src.read_bytes()
    for kind, blob in (("xz", lzma.compress(data)), ("zst", zstandard.compress(data)),
                       ("gz", gzip.compress(data))):
        path = tmp_path / f"hello.ko.{kind}"
        path.write_bytes(blob)
        ko = KoFile(path)
        assert (ko.compression, ko.raw, ko.name) == (kind, data, "hello")
        assert ko.modinfo == KoFile(src).modinfo
    assert KoFile(src).compression is None


def test_name_without_modinfo_name_comes_from_the_file_name(tmp_path):
    ko = KoFile(course_module("hello"))
    sec = ko.get_section_by_name(".modinfo")
    raw = bytearray(ko.raw)
    data = ko.section_data(sec).replace(b"name=hello", b"xxxx=hello")
    raw[sec.offset : sec.offset + sec.size] = data
    path = tmp_path / "my-module.ko"
    path.write_bytes(raw)
    assert KoFile(path).name == "my_module"


def test_errors_name_the_file(tmp_path):
    cases = {"empty.ko": b"", "text.ko": b"hello world\n", "trunc.ko":
             course_module("hello").read_bytes()[:100], "badxz.ko": b"\xfd7zXZ\x00garbage"}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(KoFormatError) as err:
            KoFile(path)
        assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)
    with pytest.raises(KoFormatError, match="no such file"):
        KoFile(tmp_path / "missing.ko")
