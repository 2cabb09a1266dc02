"""kmod's insmod/rmmod/lsmod/modprobe/modinfo in kshell, against the real kmod 30 binaries.

Two kinds of checks:
- differential: the same command line run by Debian's kmod 30 on this machine and by the
  simulator gives the same stdout, stderr and status. Only commands that never reach a
  module syscall are run for real (argument errors, a name that is not loaded, modprobe's
  dry run -n against a copy of the module tree): nothing is loaded into or removed from the
  host kernel.
- from the sources: outcomes that need a loaded module, with the kmod/kernel function cited.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import need_tool
from kcourse.shell import Shell

RELEASE = "6.1.0-56-amd64"


def run(line: str, shell: Shell | None = None):
    return (shell or Shell()).run(line)


def real(argv: list[str], cwd: str | None = None) -> tuple[str, str, int]:
    need_tool(argv[0])
    env = dict(os.environ, LC_ALL="C")
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env, check=False)
    return proc.stdout, proc.stderr, proc.returncode


# Command lines that kmod answers before any syscall (argument checks, names not loaded).
SAFE_LINES = [
    "insmod",
    "insmod -",
    "insmod /nonexistent/kcourse_x.ko",
    "insmod --foo",
    "insmod --help=3",
    "insmod -h",
    "insmod -V",
    "rmmod",
    "rmmod -x kcourse_x",
    "rmmod kcourse_not_loaded",
    "rmmod kcourse-not-loaded.ko",
    "rmmod kcourse_a kcourse_b",
    "rmmod -h",
    "rmmod -w kcourse_x",
    "lsmod kcourse_x",
    "modprobe",
    "modprobe --bogus",
    "modprobe -h",
    "modinfo",
    "modinfo -F",
    "modinfo --fi",
    "modinfo kcourse_nonexistent",
]


@pytest.mark.parametrize("line", SAFE_LINES)
def test_same_answer_as_real_kmod(line):
    argv = line.split()
    out, err, rc = real(argv, cwd="/tmp")
    got = run(line)
    assert (got.stdout, got.stderr, got.rc) == (out, err, rc)


def test_real_kmod_is_version_30():
    out, _, _ = real(["kmod", "-V"])
    assert out.startswith("kmod version 30\n")


# ------------------------------------------------------------------ modprobe dry runs
@pytest.fixture(scope="module")
def module_tree(tmp_path_factory):
    """A copy of the simulated /lib/modules/<release>, indexed by the real depmod."""
    need_tool("depmod")
    root = tmp_path_factory.mktemp("root")
    extra = root / "lib/modules" / RELEASE / "extra"
    extra.mkdir(parents=True)
    sh = Shell()
    for rel, path in sh.tree.files.items():
        shutil.copy(path, extra.parent / rel)
    _, err, rc = real(["depmod", "-b", str(root), RELEASE])
    assert rc == 0, err
    return root


@pytest.mark.parametrize("args", [
    "-n -v consumer", "-n -v hello whom=x", "-D consumer", "-R provider", "-n kcourse_nosuch",
    "-n -v -a hello provider", "-r -n kcourse_nosuch", "-n -v hello 'whom=big world'",
    "-q -n kcourse_nosuch",
])
def test_modprobe_dry_run_like_real_modprobe(module_tree, args):
    """modprobe -n/-D/-R only read the tree and /sys: safe to run for real with -d ROOT."""
    import shlex

    out, err, rc = real(["modprobe", "-d", str(module_tree), "-S", RELEASE, *shlex.split(args)])
    got = run(f"modprobe {args}")
    prefix = str(module_tree)
    assert (got.stdout, got.stderr, got.rc) == (out.replace(prefix, ""), err.replace(prefix, ""),
                                                 rc)


def test_module_tree_indexes_are_real_depmods(module_tree):
    sh = Shell()
    moddir = module_tree / "lib/modules" / RELEASE
    for name in ("modules.dep", "modules.alias", "modules.symbols", "modules.softdep",
                 "modules.devname"):
        got = sh.run(f"cat /lib/modules/{RELEASE}/{name}").stdout
        assert got == (moddir / name).read_text(), name


def test_modinfo_like_real_modinfo(module_tree):
    """modinfo NAME reads modules.dep; modinfo FILE prints the absolute path as given."""
    out, err, rc = real(["modinfo", "-b", str(module_tree), "-k", RELEASE, "consumer"])
    got = run("modinfo consumer")
    assert (got.stdout, got.stderr, got.rc) == (out.replace(str(module_tree), ""), err, rc)
    data = Path(__file__).resolve().parent.parent / "data" / "modules"
    out, err, rc = real(["modinfo", "-F", "parm", "./hello/hello.ko"], cwd=str(data))
    got = run("modinfo -F parm ./hello/hello.ko")
    assert (got.stdout, got.rc) == (out, rc)
    out, err, rc = real(["modinfo", "-n", "./hello/hello.ko"], cwd=str(data))
    assert run("modinfo -n ./hello/hello.ko").stdout == out.replace(str(data), "/root/modules")


# ------------------------------------------------------------------ from the sources
def test_insmod_maps_errno_like_mod_strerror():
    """tools/insmod.c mod_strerror: ENOENT -> "Unknown symbol in module"; others strerror."""
    got = run("insmod consumer/consumer.ko")
    assert got.stderr == ("insmod: ERROR: could not insert module consumer/consumer.ko: "
                          "Unknown symbol in module\n")
    assert got.rc == 1
    got = run("insmod failinit/failinit.ko")
    assert got.stderr.endswith("failinit/failinit.ko: No such device\n")


def test_insmod_of_a_directory_and_of_a_non_module():
    """kmod_file_open reads the magic bytes: a directory fails EISDIR; a text file reaches
    the kernel, whose ELF check refuses it (ENOEXEC -> "Invalid module format")."""
    assert run("insmod hello").stderr == \
        "insmod: ERROR: could not insert module hello: Is a directory\n"
    got = run("insmod hello/hello.c")
    assert got.stderr == "insmod: ERROR: could not insert module hello/hello.c: " \
                         "Invalid module format\n"
    assert got.rc == 1


def test_rmmod_checks_holders_then_refcnt_then_calls_the_kernel():
    sh = Shell()
    sh.run("insmod provider/provider.ko")
    sh.run("insmod consumer/consumer.ko")
    before = sh.kernel.snapshot()
    got = sh.run("rmmod provider")
    assert got.stderr == "rmmod: ERROR: Module provider is in use by: consumer\n"
    assert sh.kernel.snapshot() == before  # refused: nothing changed
    sh.run("exec 3</dev/kcdev")  # no such device yet: bash's error, nothing opened
    sh.run("insmod kcdev/kcdev.ko")
    sh.run("exec 4</dev/kcdev")
    assert sh.run("rmmod kcdev").stderr == "rmmod: ERROR: Module kcdev is in use\n"
    sh.run("exec 4<&-")
    assert sh.run("rmmod kcdev").rc == 0


def test_rmmod_by_path_uses_the_file_name():
    """tools/rmmod.c: an argument that stat()s is a path: the module name is its basename."""
    sh = Shell()
    sh.run("insmod hello/hello.ko")
    assert sh.run("rmmod hello/hello.ko").rc == 0
    assert sh.run("lsmod").stdout == "Module                  Size  Used by\n"


def test_rmmod_several_names_reports_each_and_fails_once():
    sh = Shell()
    sh.run("insmod hello/hello.ko")
    got = sh.run("rmmod kcourse_x hello")
    assert got.stderr == "rmmod: ERROR: Module kcourse_x is not currently loaded\n"
    assert got.rc == 1
    assert "hello" not in sh.run("lsmod").stdout


def test_lsmod_reads_holders_in_sysfs_readdir_order():
    sh = Shell()
    sh.run("modprobe consumer")
    lines = sh.run("lsmod").stdout.splitlines()
    assert lines[0] == "Module                  Size  Used by"
    assert lines[2] == "provider               16384  1 consumer"


def test_modprobe_quiet_and_verbose():
    sh = Shell()
    got = sh.run("modprobe -q kcourse_nosuch")
    assert (got.stdout, got.stderr, got.rc) == ("", "", 1)
    got = sh.run("modprobe -v consumer")
    assert got.stdout == (f"insmod /lib/modules/{RELEASE}/extra/provider.ko \n"
                          f"insmod /lib/modules/{RELEASE}/extra/consumer.ko \n")
    got = sh.run("modprobe -r -v consumer")
    assert got.stdout == "rmmod consumer\nrmmod provider\n"


def test_modprobe_remove_holders_follows_kmod_30():
    """tools/modprobe.c rmmod_do_module: step 2 removes the holders (consumer), and removing
    consumer also removes its now unused dependency (step 4: provider). Step 3 then finds
    provider's refcnt unreadable (-ENOENT, not > 0) and calls delete_module again, which
    fails: libkmod logs the failure and modprobe exits 1, with provider gone."""
    sh = Shell()
    sh.run("modprobe consumer")
    got = sh.run("modprobe -r -v --remove-holders provider")
    assert got.stdout == "rmmod consumer\nrmmod provider\nrmmod provider\n"
    assert got.stderr == ("modprobe: ERROR: ../libkmod/libkmod-module.c:856 "
                          "kmod_module_remove_module() could not remove 'provider': "
                          "No such file or directory\n")
    assert got.rc == 1
    assert sh.run("cat /proc/modules").stdout == ""


def test_unsimulated_options_say_so():
    got = run("modprobe -c")
    assert got.rc == 1 and "not simulated" in got.stderr


def test_depmod_accepts_the_running_release_only():
    assert run("depmod -a").rc == 0
    got = run("depmod 9.9.9")
    assert got.stderr == ("depmod: ERROR: could not open directory /lib/modules/9.9.9: No such "
                          "file or directory\ndepmod: FATAL: could not search modules: No such "
                          "file or directory\n")


def test_a_process_killed_in_the_kernel_is_reported_like_bash():
    """baduser.c's write() dereferences the user pointer; on this SMAP machine the kernel
    oopses and kills the writer (baduser.c header comment). A terminal's bash reports a
    SIGKILLed job as "Killed" with status 128 + 9 (Shell(job_control=True); the default
    imitates the lab's bash -i without a terminal, which says nothing: tests/test_oops.py)."""
    sh = Shell(job_control=True)
    sh.run("insmod baduser/baduser.ko")
    got = sh.run("echo x > /dev/baduser")
    assert (got.stderr, got.rc) == ("Killed\n", 137)
    assert any(line.startswith("BUG: unable to handle page fault") for line in got.dmesg)
    assert sh.run("echo $?").stdout == "137\n"


def test_a_simulator_refusal_during_insmod_is_its_own_line_not_an_errno(monkeypatch):
    """A model that cannot go on (a KcourseError that is not a system call's -errno) must not
    pass for the kernel's EIO: insmod would print "Input/output error", which no kernel said."""
    from kcourse.errors import KcourseError
    from kcourse.kernel.kernel import Kernel

    def refuse(self, *args, **kwargs):
        raise KcourseError("a struct field the layout does not have: net_device.nope")

    monkeypatch.setattr(Kernel, "finit_module", refuse)
    got = Shell().run("insmod hello/hello.ko")
    assert got.rc == 1
    assert got.stderr == "kcourse: a struct field the layout does not have: net_device.nope\n"
