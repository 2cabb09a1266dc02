"""The real-kernel lab without QEMU: archives, the guest's shell, the console protocol.

References: the newc format is checked by reading our archives back with busybox's cpio (a
real tool); the kernel's rules are cited where used (init/initramfs.c, Documentation/arch/
x86/boot.rst). The console texts fed to the parser are built here in the shape the guest's
shell prints (kcourse/lab/guest.py), so these tests pin the parser, not the kernel; the kernel's
own words are checked in tests/test_lab_real.py.
"""

import base64
import lzma
import re
import stat
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import need_tool
from kcourse.errors import KcourseError
from kcourse.lab import cpio, guest, protocol, runner, userland, vmlinux
from kcourse.lab.prepare import Lab
from kcourse.paths import course_module


# ------------------------------------------------------------------ cpio
def test_cpio_round_trip_and_alignment():
    entries = [
        cpio.directory("root"),
        cpio.regular("root/a", b"x" * 5),
        cpio.regular("root/run", b"#!/bin/sh\n", executable=True),
        cpio.symlink("bin", "usr/bin"),
    ]
    blob = cpio.archive(entries)
    assert blob.startswith(b"070701")
    assert len(blob) % 4 == 0
    back = cpio.parse(blob)
    assert [(e.name, e.mode, e.data) for e in back] == [(e.name, e.mode, e.data) for e in entries]
    assert stat.S_ISLNK(back[3].mode) and back[3].data == b"usr/bin"
    assert back[2].mode & 0o777 == 0o755


def test_cpio_is_read_by_busybox(tmp_path):
    busybox = need_tool("busybox")
    entries = [cpio.directory("d"), cpio.regular("d/file", b"hello\n"), cpio.symlink("l", "d")]
    archive = tmp_path / "a.cpio"
    archive.write_bytes(cpio.archive(entries))
    listing = subprocess.run([busybox, "cpio", "-t"], stdin=archive.open("rb"),
                             capture_output=True, text=True, check=True)
    assert listing.stdout.split() == ["d", "d/file", "l"]
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run([busybox, "cpio", "-i", "-d"], stdin=archive.open("rb"), cwd=out,
                   capture_output=True, check=True)
    assert (out / "d" / "file").read_text() == "hello\n"
    assert (out / "l").is_symlink() and str((out / "l").readlink()) == "d"


def test_cpio_tree_lists_parents_first(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f").write_text("1")
    (tmp_path / "a-z").write_text("2")
    names = [e.name for e in cpio.tree(tmp_path)]
    assert names.index("a") < names.index("a/b") < names.index("a/b/f")
    with pytest.raises(ValueError):
        cpio.archive([cpio.regular("/abs", b"")])


# ------------------------------------------------------------------ the guest's shell
def test_boot_archive_holds_the_shell_start_and_files():
    blob = guest.boot_archive("abc123", {"/tmp/t/bad.ko": b"ELF", "mine.ko": b"K"})
    files = {e.name: e.data for e in cpio.parse(blob)}
    assert files["tmp/t/bad.ko"] == b"ELF"
    assert files["root/modules/mine.ko"] == b"K"  # relative: the working directory
    assert "tmp" in files and "tmp/t" in files  # parent directories come first
    head = files["kcourse/head"].decode()
    assert "kc_t=abc123" in head and "@@KC:%s:%s" in head and head.endswith("kc_mark READY\n")
    assert files["kcourse/run"].decode() == guest.BOOT
    # /init hands /kcourse/run to bash, which becomes the shell reading the console
    assert "bash --norc --noprofile --noediting -i </kcourse/run" in guest.INIT
    assert "exec bash --noprofile --rcfile /kcourse/head --noediting -i </dev/console" in (
        guest.BOOT)


@pytest.mark.parametrize("text", [
    "insmod hello/hello.ko whom='a b'", "echo \"$HOME\" $'\\x41' `x` \\ ; | & > < ( ) { }",
    "echo été ✔ 日本", "printf '%s\\n' \"it's\" !x !! ~ * ? [a] #c", "\t\x01\x7f\xff".encode(
        "latin-1").decode("latin-1"),
])
def test_quote_gives_bash_the_line_back_unchanged(text):
    """Real bash reads the quoted word back as the very text (bash's parse.y ansiexpand)."""
    bash = need_tool("bash")
    proc = subprocess.run([bash, "--norc", "--noprofile", "-c",
                           f"printf %s {guest.quote(text)}"], capture_output=True, check=True)
    assert proc.stdout == text.encode()
    assert set(guest.quote(text)[2:-1]) <= set("0123456789abcdefx\\ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                               "ghijklmnopqrstuvwyz")


def test_line_program_runs_the_line_at_the_top_level():
    program = guest.line_program(7, "exec 3< /dev/kcdev").decode()
    assert program.splitlines() == [
        f"kc_cmd={guest.quote('exec 3< /dev/kcdev')}",
        "kc_mark BEGIN:7",
        "kc_bg=$!",
        '{ eval "$kc_cmd"; } </dev/null >/kcourse/out 2>/kcourse/err',
        'kc_report 7 $? "$kc_bg"',
    ]
    receive = guest.receive_program(2, "/tmp/kcourse-tampered/x.ko", 7104).decode()
    assert receive.endswith("kc_mark RECV:2; /usr/bin/head -c 7104 >"
                            f"{guest.quote('/tmp/kcourse-tampered/x.ko')}; kc_mark GOT:2\n")
    assert guest.quote("/tmp/kcourse-tampered") in receive  # its folder is made first
    packed = guest.receive_program(3, "x.ko", 900, gzipped=True).decode()
    assert packed.endswith("kc_mark RECV:3; /usr/bin/head -c 900 | /usr/lib/kcourse/busybox "
                           f"gunzip -c >{guest.quote('/root/modules/x.ko')}; kc_mark GOT:3\n")


@pytest.mark.parametrize("name", ["../etc/passwd", "/", "a/../../b"])
def test_guest_file_names_cannot_escape(name):
    with pytest.raises(ValueError):
        guest.guest_file_path(name)


def test_script_lines_cannot_hold_newlines_or_nul():
    with pytest.raises(ValueError):
        guest.line_program(0, "echo a\necho b")
    with pytest.raises(ValueError, match="NUL"):
        guest.line_program(0, "echo a\0b")
    with pytest.raises(ValueError):
        guest.head("bad token!")


def test_init_never_links_busybox_to_itself(tmp_path):
    # A `busybox` applet link to itself makes the kernel fail with "Failed to execute /init
    # (error -40)" (../shared/notes/real-kernel-lab.md).
    busybox = need_tool("busybox")
    applets = userland.busybox_applets(busybox)
    assert "busybox" not in applets and "sh" in applets and "poweroff" in applets
    assert guest.INIT.startswith("#!/usr/lib/kcourse/busybox sh\n")


# ------------------------------------------------------------------ the console protocol
def _b64(text: str) -> list[str]:
    data = base64.b64encode(text.encode()).decode()
    return [data[i : i + 76] for i in range(0, len(data), 76)] or [""]


def _console(token: str, reports: list[tuple[int, str, str, str]]) -> str:
    """What the guest's shell prints: (rc, stdout, stderr, full dmesg) per line, CRLF like a
    tty (an empty output has no base64 line at all)."""
    mark = f"@@KC:{token}:"
    # /init's bash -i prints its first prompt ("bash-5.2# ", no newline) before it runs
    # /kcourse/run; the shell it becomes prints job control warnings.
    out = ["\x1bc\x1b[?7l[    0.000000] Linux version", "bash-5.2# bash: cannot set terminal "
           "process group (-1): Inappropriate ioctl for device", f"{mark}READY"]
    for i, (rc, stdout, stderr, log) in enumerate(reports):
        out.append(f"{mark}BEGIN:{i}")
        out.append(f"{mark}RC:{i}:{rc}")
        out += [f"{mark}OUT:{i}", *_b64(stdout)[: len(stdout) and None]]
        out += [f"{mark}ERR:{i}", *_b64(stderr)[: len(stderr) and None]]
        out += [f"{mark}LOG:{i}", *_b64(log), f"{mark}END:{i}"]
    out.append("[    3.1] reboot: Power down")
    return "\r\n".join(out) + "\r\n"


LOG1 = "[    2.867531] hello: hello, world (count=1)\n"
LOG2 = LOG1 + "[    3.428379] hello: goodbye, world\n"


def test_parse_results_and_dmesg_per_command():
    lines = ["insmod hello/hello.ko", "lsmod", "rmmod hello", "dmesg"]
    console = _console("t1", [
        (0, "", "", LOG1),
        (0, "Module                  Size  Used by\nhello                  16384  0\n", "", LOG1),
        (0, "", "", LOG2),
        (0, LOG2, "", LOG2),
    ])
    results = protocol.results(lines, protocol.parse(console, "t1"))
    assert [r.line for r in results] == lines
    assert results[0].dmesg == ("hello: hello, world (count=1)",)
    assert results[1].stdout.endswith("hello                  16384  0\n")
    assert results[1].dmesg == ()
    assert results[2].dmesg == ("hello: goodbye, world",)
    assert results[3].stdout == LOG2 and results[3].dmesg == ()  # dmesg keeps timestamps


def test_parse_ignores_other_tokens_and_console_noise():
    console = _console("good", [(1, "", "insmod: ERROR: x\n", "")])
    forged = "@@KC:evil:RC:0:0\r\n[   9.1] random: crng init done\r\n"
    transcript = protocol.parse(forged + console, "good")
    assert transcript.ready
    results = protocol.results(["insmod x"], transcript)
    assert results[0].rc == 1 and results[0].stderr == "insmod: ERROR: x\n"
    assert any("crng" in line for line in transcript.noise)


def test_kernel_line_inside_a_block_is_not_decoded():
    console = _console("t", [(0, "abc\n", "", "")]).replace(
        _b64("abc\n")[0], _b64("abc\n")[0] + "\r\n[    5.1] Kernel panic - not syncing: x")
    results = protocol.results(["cat f"], protocol.parse(console, "t"))
    assert results[0].stdout == "abc\n"


def test_results_stop_at_a_line_that_did_not_end():
    console = _console("t", [(0, "", "", "")]) + "@@KC:t:BEGIN:1\r\n"
    transcript = protocol.parse(console, "t")
    assert transcript.last_started() == 1
    assert len(protocol.results(["true", "cat /dev/zero", "true"], transcript)) == 1


def test_new_log_lines_after_dmesg_clear():
    before = ["[    1.000000] a", "[    2.000000] b"]
    assert protocol.new_log_lines(before, before + ["[    3.000000] c"]) == ["[    3.000000] c"]
    # `dmesg -c` emptied the buffer, then one more message came: only the newer line is new.
    assert protocol.new_log_lines(before, ["[    4.000000] d"]) == ["[    4.000000] d"]
    assert protocol.new_log_lines(before, []) == []
    assert protocol.strip_timestamp("[ 1234.567890] hello: x") == "hello: x"


def test_clean_removes_ansi_and_carriage_returns():
    assert protocol.clean("\x1bc\x1b[?7l\x1b[2Jok\r\n") == "ok\n"


# ------------------------------------------------------------------ the kernel image
def _fake_elf_with_pvh_note() -> bytes:
    note = struct.pack("<III", 4, 4, vmlinux.XEN_ELFNOTE_PHYS32_ENTRY) + b"Xen\0" + b"\0" * 4
    phoff, phentsize = 64, 56
    header = bytearray(64)
    header[:5] = b"\x7fELF\x02"
    struct.pack_into("<Q", header, 0x20, phoff)
    struct.pack_into("<HH", header, 0x36, phentsize, 1)
    phdr = struct.pack("<IIQQQQQQ", 4, 0, phoff + phentsize, 0, 0, len(note), len(note), 4)
    return bytes(header) + phdr + note


def _fake_bzimage(payload: bytes) -> bytes:
    # Documentation/arch/x86/boot.rst: setup_sects at 0x1f1, "HdrS" at 0x202,
    # payload_offset/length at 0x248/0x24c from the protected-mode code.
    setup_sects = 1
    image = bytearray((setup_sects + 1) * 512)
    image[0x1F1] = setup_sects
    image[0x202:0x206] = b"HdrS"
    struct.pack_into("<II", image, 0x248, 16, len(payload))
    return bytes(image) + b"\0" * 16 + payload + b"\0\0\0\0"


def test_extract_vmlinux_from_xz_bzimage():
    elf = _fake_elf_with_pvh_note()
    packed = lzma.compress(elf, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32)
    assert vmlinux.extract_vmlinux(_fake_bzimage(packed)) == elf


def test_kernel_image_errors_are_one_line():
    with pytest.raises(KcourseError, match="not an x86 bzImage"):
        vmlinux.payload(b"\0" * 1024)
    no_pvh = lzma.compress(b"\x7fELF\x02" + b"\0" * 100, format=lzma.FORMAT_XZ)
    with pytest.raises(KcourseError, match="no PVH entry"):
        vmlinux.extract_vmlinux(_fake_bzimage(no_pvh))
    with pytest.raises(KcourseError, match="unsupported kernel compression"):
        vmlinux.decompress(b"BZh9")


# ------------------------------------------------------------------ host files and ldd
def test_parse_ldd_of_kmod():
    need_tool("ldd")
    kmod = need_tool("kmod")
    libs = userland.shared_libraries(kmod)
    assert any("libc.so" in lib for lib in libs) and any("ld-linux" in lib for lib in libs)
    assert all(Path(lib).exists() for lib in libs)
    assert userland.parse_ldd("\tlinux-vdso.so.1 (0x00007ffc)\n") == []


def test_guest_paths_follow_merged_usr():
    assert userland.guest_path("/usr/bin/kmod") == "usr/bin/kmod"
    if Path("/lib").is_symlink():  # Debian 12: /lib -> usr/lib
        assert userland.guest_path("/lib/x86_64-linux-gnu/libc.so.6").startswith("usr/lib/")


def test_host_files_named_by_absolute_path(tmp_path):
    ko = tmp_path / "bad.ko"
    ko.write_bytes(b"x")
    lines = [f"insmod {ko} count=1", "insmod hello/hello.ko", "cat /proc/modules",
             f"modinfo '{tmp_path}/missing.ko'", "echo 'unbalanced"]
    assert runner.host_files(lines) == {str(ko): ko}


# ------------------------------------------------------------------ a guest that fails
def _fake_lab(tmp_path) -> Lab:
    base = tmp_path / "base.cpio"
    base.write_bytes(cpio.archive([cpio.directory("x")]))
    return Lab("6.1.0-0-amd64", tmp_path / "vmlinux", base, {}, {})


def _fake_qemu(tmp_path, body: str) -> str:
    script = tmp_path / "qemu"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return str(script)


def test_hung_guest_is_killed_with_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "check_qemu", lambda: _fake_qemu(tmp_path, "exec sleep 60\n"))
    kernel = runner.RealKernel(lab=_fake_lab(tmp_path), timeout=0.5)
    with pytest.raises(runner.GuestError, match=r"did not answer within 0.5 s before the shell"):
        kernel.run_script(["true"])


def test_guest_that_panics_says_so(tmp_path, monkeypatch):
    panic = "echo 'Kernel panic - not syncing: VFS: Unable to mount root fs'\n"
    monkeypatch.setattr(runner, "check_qemu", lambda: _fake_qemu(tmp_path, panic))
    kernel = runner.RealKernel(lab=_fake_lab(tmp_path), timeout=30)
    with pytest.raises(runner.GuestError,
                       match=r"panicked \(Kernel panic - not syncing: VFS: .*\) before the shell"):
        kernel.run_script(["true"])


# ------------------------------------------------------------------ tampered copies
def test_tampered_copies_change_one_field(tmp_path):
    modinfo = need_tool("modinfo")
    from kcourse.lab import tamper

    folder = tamper.make_course_copies(tmp_path)
    original = course_module("hello").read_bytes()
    release = tamper.modinfo_value(original, "vermagic").split(" ", 1)[0]
    for name in ("hello-release.ko", "hello-nopreempt.ko", "hello-badcrc.ko"):
        data = (folder / name).read_bytes()
        assert len(data) == len(original)
        # the bytes that differ lie in one run no longer than the field
        changed = [i for i, (a, b) in enumerate(zip(original, data, strict=True)) if a != b]
        assert changed and changed[-1] - changed[0] < 64
    # kmod's own modinfo reads the edited fields (the tool the learner would use).
    def field(name, key):
        return subprocess.run([modinfo, "-F", key, str(folder / name)], capture_output=True,
                              text=True, check=True).stdout.strip()

    assert field("hello-nopreempt.ko", "vermagic") == f"{release} SMP mod_unload modversions"
    assert field("hello-release.ko", "vermagic").split(" ", 1)[0] != release
    assert field("consumer-bsd.ko", "license") == "BSD"
    # kmod's modprobe --dump-modversions reads __versions (tools/modprobe.c show_modversions)
    def crcs(path):
        out = subprocess.run([need_tool("modprobe"), "--dump-modversions", str(path)],
                             capture_output=True, text=True, check=True).stdout
        return {name: int(crc, 16) for crc, name in (line.split("\t") for line in
                                                     out.splitlines())}

    assert crcs(folder / "hello-badcrc.ko")["module_layout"] == crcs(
        course_module("hello"))["module_layout"] ^ 1
    with pytest.raises(KcourseError):
        tamper.licence(original, "a much longer licence than GPL")
    with pytest.raises(KcourseError):
        tamper.crc(original, "no_such_symbol", 0)


# ------------------------------------------------------------------ the lesson's recording
def test_recording_matches_the_sessions():
    from kcourse.lab import lesson, recordings

    assert set(recordings.SESSIONS) == set(lesson.SESSIONS)
    for name, lines in lesson.SESSIONS.items():
        assert [item["line"] for item in recordings.SESSIONS[name]] == lines, name
        for item in recordings.SESSIONS[name]:  # stored masked, as the lesson prints it
            assert not re.search(r"0x[0-9a-f]{16}|^\[\s*\d+\.\d{6}\]", item["stdout"], re.M)


def test_lesson_replays_the_recording_without_qemu(monkeypatch, capsys):
    from kcourse.lab import lesson, recordings

    monkeypatch.setenv("KCOURSE_QEMU", "/nonexistent/qemu")
    monkeypatch.delenv("KCOURSE_REQUIRE_REAL", raising=False)
    monkeypatch.setattr(lesson, "_LAB", None)
    assert lesson.status() is False
    assert "QEMU is not installed" in capsys.readouterr().out
    results = lesson.real_results("debian")
    assert [r.line for r in results] == lesson.SESSIONS["debian"]
    assert results[0].dmesg == tuple(recordings.SESSIONS["debian"][0]["dmesg"])
    monkeypatch.setenv("KCOURSE_REQUIRE_REAL", "1")
    with pytest.raises(KcourseError, match="QEMU is required"):
        lesson.real_results("debian")


def test_side_by_side_marks_differences():
    from kcourse.backend import CommandResult
    from kcourse.lab.compare import compare, side_by_side

    sim = [CommandResult("cat /proc/modules", "hello 16384 0 - Live 0xffffffffc0000000 (OE)\n"),
           CommandResult("rmmod hello", dmesg=("hello: goodbye, you",))]
    real = [CommandResult("cat /proc/modules", "hello 16384 0 - Live 0xffffffffc04ba000 (OE)\n"),
            CommandResult("rmmod hello", dmesg=("hello: goodbye, you", ""))]
    text = side_by_side(compare(sim, real))
    assert "✔ $ cat /proc/modules\n    hello 16384 0 - Live 0xADDR (OE)\n" in text
    assert "✘ $ rmmod hello\n    simulator:\n" in text
    assert text.endswith("1 of 2 commands identical (addresses and timestamps masked)\n")


# ------------------------------------------------------------------ preparation
def test_rebuild_for_another_release_names_the_headers_to_install(monkeypatch):
    from kcourse.lab import prepare

    monkeypatch.setattr(prepare, "module_release", lambda ko: "6.1.0-56-amd64")
    with pytest.raises(KcourseError, match="apt-get install -y linux-headers-6.1.0-98-amd64"):
        prepare.course_modules("6.1.0-98-amd64")


def test_debian_closure_follows_depends(debian_modules_dir):
    from kcourse.lab.prepare import debian_closure

    # The real kernel's lsmod after `modprobe 8021q` (tests/scenarios/lab_debian.expected)
    # lists exactly these five modules.
    assert set(debian_closure(debian_modules_dir, ("8021q",))) == {
        "8021q", "garp", "mrp", "stp", "llc"}
    with pytest.raises(KcourseError, match="no module named nosuch"):
        debian_closure(debian_modules_dir, ("nosuch",))


def test_missing_tools_say_what_to_install(monkeypatch):
    from kcourse.lab import prepare, userland

    monkeypatch.setenv("KCOURSE_QEMU", "/nonexistent/qemu-system-x86_64")
    with pytest.raises(KcourseError, match="apt-get install .*qemu-system-x86"):
        prepare.check_qemu()
    monkeypatch.setattr(userland.shutil, "which", lambda *a, **k: None)
    monkeypatch.setattr(userland, "Path", lambda p: Path("/nonexistent") / p.lstrip("/"))
    with pytest.raises(KcourseError, match="apt-get install .*busybox-static"):
        userland.find_busybox()


def test_sim_real_rejects_bad_arguments():
    from kcourse.lab.cli import real_sim_main

    with pytest.raises(KcourseError, match="unknown option '--bogus'"):
        real_sim_main(["--real", "--bogus"])
    with pytest.raises(KcourseError, match="one SCRIPT at most"):
        real_sim_main(["a.sh", "b.sh"])


def test_normalise_drops_only_the_late_timer_line():
    """The guest's kernel/time/hrtimer.c prints `hrtimer: interrupt took N ns` once when the
    busy host delays its timer interrupt; seen in a lab_debian run under load. Dropped on both
    sides; a module's own line with the same words inside is kept."""
    from kcourse.lab.compare import normalise

    text = ("$ dmesg\n[   3.141592] hrtimer: interrupt took 2410795 ns\n"
            "[   3.200000] mine: hrtimer: interrupt took 5 ns\n[rc=0]\n"
            "  dmesg> hrtimer: interrupt took 12 ns\n  dmesg> hello: hi\n")
    assert normalise(text) == ("$ dmesg\n[TIME] mine: hrtimer: interrupt took 5 ns\n[rc=0]\n"
                               "  dmesg> hello: hi\n")


def test_normalise_drops_the_simulators_own_notes_only():
    from kcourse.lab.compare import normalise

    text = ("$ modprobe x_tables\nkcourse: note: x_tables's init did not run in the simulator: "
            "it calls xt_foo()\n[rc=0]\nmodprobe: kcourse: note: kept\n")
    assert normalise(text) == "$ modprobe x_tables\n[rc=0]\nmodprobe: kcourse: note: kept\n"
