"""The simulated machine's file system: the path rule, sysfs readdir order, ls and cat."""

import os
import subprocess

import pytest

from conftest import need, need_tool
from kcourse.paths import modules_dir
from kcourse.shell import Shell
from kcourse.shell.fs import kernfs_name_hash, kernfs_order


def test_starts_in_the_course_modules_folder():
    sh = Shell()
    assert sh.run("pwd").stdout == "/root/modules\n"
    names = sorted(p.name for p in modules_dir().iterdir())
    assert sh.run("ls").stdout == "".join(f"{n}\n" for n in sorted(names, key=str.encode))
    assert sh.run("cd; pwd").stdout == "/root\n"
    assert sh.run("cd -").stdout == "/root/modules\n"
    assert sh.run("cd hello && insmod hello.ko").rc == 0


def test_the_top_level_holds_only_the_simulated_entries():
    sh = Shell()
    assert sh.run("ls /").stdout == "dev\nlib\nproc\nroot\nsys\n"
    assert sh.run("ls /lib/modules").stdout == f"{sh.release}\n"
    extra = sh.run(f"ls /lib/modules/{sh.release}/extra").stdout.split()
    assert "hello.ko" in extra and "consumer.ko" in extra


def test_relative_and_absolute_paths_reach_the_same_file():
    sh = Shell()
    assert sh.run("insmod /root/modules/hello/hello.ko").rc == 0
    got = sh.run("insmod ../modules/./hello/hello.ko")
    assert got.stderr.endswith("File exists\n")


def test_host_paths_outside_the_simulated_tree(tmp_path):
    """Any other absolute path is the host's file, read-only: your own .ko loads from there."""
    ko = tmp_path / "mine.ko"
    ko.write_bytes((modules_dir() / "hello" / "hello.ko").read_bytes())
    sh = Shell()
    assert sh.run(f"insmod {ko}").rc == 0
    assert "hello" in sh.run("lsmod").stdout
    got = sh.run(f"echo x > {tmp_path}/out.txt")
    assert got.rc == 1 and "Read-only file system" in got.stderr
    assert not (tmp_path / "out.txt").exists()


def test_symlinks_in_sysfs_are_followed():
    sh = Shell()
    sh.run("modprobe consumer")
    assert sh.run("cat /sys/module/provider/holders/consumer/refcnt").stdout == "0\n"
    listing = sh.run("ls /sys/module/provider/holders/consumer").stdout  # a link to a dir
    assert listing == sh.run("ls /sys/module/consumer").stdout and "refcnt\n" in listing
    got = sh.run("ls -l /sys/module/provider/holders")
    assert got.stdout == ("total 0\n"
                          "lrwxrwxrwx 1 root root 0 Jan  1 00:00 consumer -> ../../consumer\n")


def test_kernfs_readdir_order_matches_the_running_kernel():
    """fs/kernfs/dir.c: siblings sorted by kernfs_name_hash; os.listdir() on this machine's
    real sysfs returns readdir order, so the hash must reproduce it exactly."""
    need(os.path.isdir("/sys/module"), "no sysfs on this machine")
    checked = 0
    for folder in ("/sys/module", "/sys/kernel", "/sys/class", "/sys/devices/system/cpu"):
        if os.path.isdir(folder):
            names = os.listdir(folder)
            assert names == kernfs_order(names), folder
            checked += len(names)
    assert checked > 20


def test_kernfs_hash_reserves_small_values():
    assert all(2 <= kernfs_name_hash(n) < 0x7FFFFFFF for n in ["", "a", "consumer", "x" * 60])


def test_ls_long_format_is_coreutils(tmp_path):
    """ls -l on a host folder against GNU ls with the same fixed time text and no owner
    columns (-g -G), since the simulator shows every file as root's."""
    need_tool("ls")
    (tmp_path / "big.bin").write_bytes(b"x" * 12345)
    (tmp_path / "a.txt").write_text("hi\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link").symlink_to("a.txt")
    os.chmod(tmp_path / "a.txt", 0o640)
    proc = subprocess.run(["ls", "-lgG", "--time-style=+Jan  1 00:00", str(tmp_path)],
                          capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"),
                          check=True)
    got = Shell().run(f"ls -l {tmp_path}").stdout.replace(" root root", "")
    assert got == proc.stdout


def test_ls_errors_and_status():
    got = Shell().run("ls /sys/module/nosuch /proc/modules")
    assert got.stdout == "/proc/modules\n"
    assert got.stderr == "ls: cannot access '/sys/module/nosuch': No such file or directory\n"
    assert got.rc == 2


def test_ls_sorts_bytewise_like_lc_all_c():
    sh = Shell()
    sh.run("insmod hello/hello.ko")
    names = sh.run("ls -A /sys/module/hello/sections").stdout.split()
    assert names == sorted(names, key=str.encode)
    assert names[0].startswith(".") and "__mcount_loc" in names
    visible = sh.run("ls /sys/module/hello/sections").stdout.split()
    assert visible and not any(n.startswith(".") for n in visible)


def test_sections_are_root_only_and_19_bytes():
    """kernel/module/sysfs.c add_sect_attrs: mode 0400, size MODULE_SECT_READ_SIZE (19)."""
    sh = Shell()
    sh.run("insmod hello/hello.ko")
    line = next(x for x in sh.run("ls -lA /sys/module/hello/sections").stdout.splitlines()
                if x.endswith(" .exit.text"))
    assert line.startswith("-r-------- 1 root root 19 ")


def test_cat_errors():
    sh = Shell()
    got = sh.run("cat /sys/module")
    assert (got.stderr, got.rc) == ("cat: /sys/module: Is a directory\n", 1)
    got = sh.run("cat /proc/nosuch")
    assert got.stderr == "cat: /proc/nosuch: No such file or directory\n"


@pytest.mark.parametrize("line, out", [
    ("uname -r", None), ("uname", "Linux\n"), ("uname -s -r", None), ("echo -n a b", "a b"),
])
def test_small_tools(line, out):
    sh = Shell()
    got = sh.run(line).stdout
    if out is None:
        assert sh.release in got
    else:
        assert got == out


def test_dmesg_clear_and_per_command_lines():
    sh = Shell()
    got = sh.run("insmod hello/hello.ko")
    assert got.dmesg[-1] == "hello: hello, world (count=1)"
    lines = sh.run("dmesg").stdout.splitlines()
    assert len(lines) == 3 and lines[0].startswith("[") and lines[0][13] == "]"
    assert sh.run("dmesg -C").stdout == ""
    assert sh.run("dmesg").stdout == ""
    assert sh.run("rmmod hello").dmesg == ("hello: goodbye, world",)


def test_a_relative_working_folder_is_the_callers(tmp_path, monkeypatch):
    (tmp_path / "mine.txt").write_text("here\n")
    monkeypatch.chdir(tmp_path)
    sh = Shell(workdir=".")
    assert sh.cwd == str(tmp_path)
    assert sh.run("cat mine.txt").stdout == "here\n"


@pytest.mark.parametrize("line", ["cat < /dev/null", "cat /dev/null", "echo hi > /dev/null",
                                  "echo hi | cat > /dev/null", "wc -c < /dev/null"])
def test_dev_null_as_bash_and_mem_c_give_it(line):
    """drivers/char/mem.c null_fops: read_null returns 0 (EOF), write_null returns count;
    what bash prints is the host's own bash with its /dev/null."""
    host = subprocess.run(["bash", "-c", line], capture_output=True, text=True, check=False)
    got = Shell().run(line)
    assert (got.stdout.strip(), got.stderr, got.rc) == \
        (host.stdout.strip(), host.stderr, host.returncode)
