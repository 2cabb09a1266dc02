"""kcourse.build.release against the kernel's own scripts/setlocalversion and Makefile rule.

The expectations come from running the real 6.1 scripts shipped in linux-headers-*-common
(scripts/setlocalversion, the KERNELVERSION line of the top Makefile) in a temporary tree.
"""

import glob
import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from kcourse.build.release import (
    GitState,
    ReleaseInputs,
    check_agreement,
    kernel_release,
    kernelversion,
    setlocalversion,
    vermagic_release,
    ways_to_get,
)
from kcourse.errors import KcourseError
from tests.conftest import need, need_tool


def _common_dir() -> Path:
    found = sorted(glob.glob("/usr/src/linux-headers-*-common/scripts/setlocalversion"))
    need(bool(found), "linux-headers-*-common (scripts/setlocalversion) is not installed")
    return Path(found[-1]).parent.parent


def _git(tree: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="k", GIT_AUTHOR_EMAIL="k@k", GIT_COMMITTER_NAME="k",
               GIT_COMMITTER_EMAIL="k@k", GIT_CONFIG_GLOBAL="/dev/null")
    return subprocess.run(["git", *args], cwd=tree, env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def _real_setlocalversion(tree: Path, env_localversion: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "LOCALVERSION"}
    env["GIT_CONFIG_GLOBAL"] = "/dev/null"
    if env_localversion is not None:
        env["LOCALVERSION"] = env_localversion
    script = _common_dir() / "scripts" / "setlocalversion"
    proc = subprocess.run(["sh", str(script), str(tree)], cwd=tree, env=env,
                          capture_output=True, text=True, check=True)
    return proc.stdout.rstrip("\n")


def _git_state(tree: Path) -> GitState | None:
    if not (tree / ".git").exists():
        return None
    head = _git(tree, "rev-parse", "--verify", "HEAD")
    exact = subprocess.run(["git", "describe", "--exact-match"], cwd=tree,
                           capture_output=True).returncode == 0
    desc = subprocess.run(["git", "describe"], cwd=tree, capture_output=True, text=True)
    dirty = bool(_git(tree, "status", "-uno", "--porcelain"))
    return GitState(head=head, exact_tag=exact,
                    describe=desc.stdout.strip() if desc.returncode == 0 else None, dirty=dirty)


def _make_tree(tmp_path: Path, config_lv: str, auto: bool, files: dict[str, str],
               git: str) -> Path:
    tree = tmp_path / "linux"
    (tree / "include" / "config").mkdir(parents=True)
    conf = f"CONFIG_LOCALVERSION={config_lv}\n" + ("CONFIG_LOCALVERSION_AUTO=y\n" if auto else "")
    (tree / "include" / "config" / "auto.conf").write_text(conf)
    for name, text in files.items():
        (tree / name).write_text(text)
    if git != "none":
        need_tool("git")
        (tree / "Makefile").write_text("VERSION = 5\n")
        _git(tree, "init", "-q")
        _git(tree, "add", "Makefile")
        _git(tree, "commit", "-q", "-m", "base")
        _git(tree, "tag", "-a", "v5.1.9", "-m", "v5.1.9")
        if git in ("after-tag", "after-tag-dirty"):
            (tree / "Makefile").write_text("VERSION = 5\n# more\n")
            _git(tree, "commit", "-q", "-am", "more")
            (tree / "Makefile").write_text("VERSION = 5\n# two\n")
            _git(tree, "commit", "-q", "-am", "two")
        if git in ("tagged-dirty", "after-tag-dirty"):
            (tree / "Makefile").write_text("VERSION = 5\n# edited\n")
    return tree


CASES = [
    # (CONFIG_LOCALVERSION, LOCALVERSION_AUTO, localversion files, git state, LOCALVERSION env)
    ("", False, {}, "none", None),
    ("-ded", False, {}, "none", None),
    ("", False, {}, "none", "-ded"),
    ("", False, {"localversion-ded": "-ded\n"}, "none", None),
    ("-a", False, {"localversion-2": "-c\n", "localversion-1": "-b\n", "localversion~": "-x"},
     "none", "-d"),
    ("", False, {}, "tagged", None),
    ("", False, {}, "tagged-dirty", None),
    ("", False, {}, "after-tag", None),
    ("", False, {}, "after-tag", ""),
    ("", False, {}, "after-tag", "-ded"),
    ("-ded", True, {}, "after-tag", None),
    ("", True, {}, "after-tag-dirty", "-x"),
    ("", True, {}, "tagged", None),
    ("", True, {}, "tagged-dirty", None),
]


@pytest.mark.parametrize("config_lv, auto, files, git, env", CASES)
def test_setlocalversion_matches_the_kernel_script(tmp_path, config_lv, auto, files, git, env):
    tree = _make_tree(tmp_path, config_lv, auto, files, git)
    real = _real_setlocalversion(tree, env)
    inputs = ReleaseInputs(5, 1, 9, config_localversion=config_lv, localversion_auto=auto,
                           localversion_files=files, localversion_env=env,
                           git=_git_state(tree))
    assert setlocalversion(inputs) == real
    assert kernel_release(inputs) == "5.1.9" + real


@pytest.mark.parametrize("values", [("5", "1", "9", "-ded"), ("6", "1", "0", ""),
                                    ("4", "4", "", "-rc1"), ("6", "12", "117", "")])
def test_kernelversion_matches_the_makefile_rule(tmp_path, values):
    need_tool("make")
    makefile = (_common_dir() / "Makefile").read_text()
    rule = re.search(r"^KERNELVERSION = .*$", makefile, re.M).group(0)   # Makefile:392
    v, p, s, e = values
    (tmp_path / "Makefile").write_text(
        f"VERSION = {v}\nPATCHLEVEL = {p}\nSUBLEVEL = {s}\nEXTRAVERSION = {e}\n{rule}\n"
        "all:\n\t@echo '$(KERNELVERSION)'\n")
    real = subprocess.run(["make", "-s", "-C", str(tmp_path)], capture_output=True, text=True,
                          check=True).stdout.strip()
    inputs = ReleaseInputs.from_makefile((tmp_path / "Makefile").read_text())
    assert kernelversion(inputs) == real


def test_debian_headers_release():
    """Debian's headers: Makefile says 6.1.N, utsrelease.h says the Debian ABI release."""
    common = _common_dir()
    inputs = ReleaseInputs.from_makefile((common / "Makefile").read_text())
    assert kernelversion(inputs).startswith("6.1.")
    arch = Path(str(common).replace("-common", "-amd64"))
    need(arch.is_dir(), f"{arch} is not installed")
    uts = (arch / "include" / "generated" / "utsrelease.h").read_text()
    release = re.search(r'UTS_RELEASE "(.*)"', uts).group(1)
    assert release == arch.name.removeprefix("linux-headers-")


def test_ways_to_get_5_1_9_ded():
    ways = ways_to_get("5.1.9-ded", ReleaseInputs(5, 1, 9))
    # the four of kernel-facts §9 (init/Kconfig, Makefile, scripts/setlocalversion):
    # CONFIG_LOCALVERSION, make LOCALVERSION=, EXTRAVERSION, a localversion* file
    assert len(ways) == 4
    assert all(kernel_release(inputs) == "5.1.9-ded" for _, inputs in ways)
    # a dirty git tree adds '+' unless LOCALVERSION is set, so only `make LOCALVERSION=` works
    dirty = ReleaseInputs(5, 1, 9, git=GitState(exact_tag=True, dirty=True))
    assert [text for text, _ in ways_to_get("5.1.9-ded", dirty)] == ["make LOCALVERSION=-ded"]


def test_release_too_long():
    with pytest.raises(KcourseError, match="exceeds 64 characters"):
        kernel_release(ReleaseInputs(6, 1, 0, config_localversion="-" + "x" * 64))


def test_agreement():
    vermagic = "6.1.0-56-amd64 SMP preempt mod_unload modversions "
    assert vermagic_release(vermagic) == "6.1.0-56-amd64"
    good = check_agreement("6.1.0-56-amd64", vermagic, ["6.1.0-56-amd64"])
    assert good.ok
    bad = check_agreement("6.18.44-fc-v669", vermagic, ["6.1.0-56-amd64"])
    assert not bad.ok and len(bad.findings) == 2
    with pytest.raises(KcourseError):
        vermagic_release("  ")


def test_this_machine_has_no_modules_for_its_kernel():
    """The lab machines run a non-Debian kernel: /lib/modules/$(uname -r) is absent."""
    release = os.uname().release
    dirs = os.listdir("/lib/modules") if os.path.isdir("/lib/modules") else []
    result = check_agreement(release, None, dirs)
    assert result.ok == (release in dirs)


def test_from_makefile_rejects_other_text():
    with pytest.raises(KcourseError):
        ReleaseInputs.from_makefile("all:\n\techo hi\n")
    assert replace(ReleaseInputs(5, 1, 9), extraversion="-rc1").extraversion == "-rc1"


def test_git_missing_is_not_needed_for_tarballs():
    assert shutil.which("sh")
