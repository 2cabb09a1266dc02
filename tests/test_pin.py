"""The course kernel is pinned in one place (data/kernel/pin.env), and everything agrees with it.

The expectations come from the artifacts themselves: the vermagic kbuild wrote into each committed
.ko (read with kmod's modinfo when installed), the UTS_RELEASE extract.sh read from the headers
into kernel.json, the release the real kernel printed in the recorded lab transcripts.
"""

import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

from kcourse import pin
from kcourse.elf.kofile import KoFile
from kcourse.kernel.kernel import kernel_facts
from kcourse.paths import kernel_data_dir, modules_dir
from tests.conftest import need

ROOT = Path(__file__).resolve().parent.parent
COURSE_KO = sorted(modules_dir().glob("*/*.ko"))


def test_pin_file_is_the_one_definition():
    text = (kernel_data_dir() / "pin.env").read_text()
    assert re.search(r"^KCOURSE_ABI=6\.1\.0-\d+$", text, re.M)
    assert re.search(r"^KCOURSE_DEBIAN_VERSION=6\.1\.\d+-\d+$", text, re.M)
    assert pin.release() == pin.abi() + "-amd64"
    assert pin.release("cloud-amd64") == pin.abi() + "-cloud-amd64"
    assert pin.build_packages() == (f"linux-headers-{pin.abi()}-amd64",
                                    f"linux-headers-{pin.abi()}-common", "linux-kbuild-6.1")


@pytest.mark.parametrize("ko", COURSE_KO, ids=lambda p: p.parent.name)
def test_committed_modules_are_built_for_the_pin(ko):
    vermagic = KoFile(ko).modinfo_get("vermagic")
    assert vermagic.split(" ", 1)[0] == pin.release()
    if shutil.which("modinfo"):
        real = subprocess.run(["modinfo", "-F", "vermagic", str(ko)], capture_output=True,
                              text=True, check=True).stdout.split(" ", 1)[0]
        assert real == pin.release()


def test_kernel_data_was_extracted_from_the_pinned_headers():
    facts = kernel_facts()
    assert facts["release"] == pin.release()
    assert facts["package"] == pin.headers_package()
    assert facts["package_version"] == pin.debian_version()
    assert facts["vermagic"].startswith(pin.release() + " ")


def test_recorded_real_kernel_transcripts_are_from_the_pinned_kernel():
    from kcourse.lab import recordings

    assert recordings.RELEASE == pin.release()


def test_nothing_asks_for_a_moving_meta_package():
    """`linux-headers-amd64` / `linux-image-amd64` move to each new ABI: only pin.drift may
    name them (to tell a maintainer that Debian moved on)."""
    moving = re.compile(r"linux-(headers|image)-(cloud-)?amd64(?![-\w])")
    offenders = []
    for path in [ROOT / ".ci" / "run", *ROOT.glob("scripts/*"), *ROOT.glob("data/kernel/*.sh"),
                 *ROOT.glob("kcourse/**/*.py"), *ROOT.glob("benchmarks/*.py")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if moving.search(line) and not line.lstrip().startswith("#"):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    allowed = [o for o in offenders if o.startswith("kcourse/pin.py")]
    assert offenders == allowed


def test_a_gone_package_says_so_and_names_the_move_command():
    message = pin.gone_message("linux-image-6.1.0-56-amd64")
    assert "apt has no linux-image-6.1.0-56-amd64" in message
    assert "scripts/move-kernel.sh 6.1.0-NN" in message


def test_the_pinned_packages_are_in_apt():
    """A missing pinned package fails (under CI, where apt is required); a newer ABI only
    warns: the maintainer's drift notice."""
    need(shutil.which("apt-cache") is not None, "apt-cache is not installed")
    packages = [*pin.build_packages(), pin.image_package(), pin.image_package("cloud-amd64")]
    out = subprocess.run(["apt-cache", "policy", *packages], capture_output=True, text=True,
                         check=False).stdout
    candidates = dict(re.findall(r"^(\S+):\n\s+Installed: .*\n\s+Candidate: (\S+)", out, re.M))
    missing = [p for p in packages if candidates.get(p, "(none)") == "(none)"]
    assert not missing, pin.gone_message(", ".join(missing))
    newer = pin.drift()
    if newer:
        warnings.warn(f"Debian now offers {newer}; the course is pinned to {pin.release()} "
                      f"({pin.MOVE_COMMAND} moves it)", stacklevel=1)


def test_fetching_a_package_apt_does_not_have_says_what_to_do(tmp_path, monkeypatch):
    """What the lab and `sim --debian` print once Debian's archive drops the pinned ABI:
    apt-get's own refusal, turned into the one line (a made-up ABI stands for a dropped one)."""
    need(shutil.which("apt-get") is not None, "apt-get is not installed")
    from kcourse.debian import DebianUnavailable, fetch_package

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(DebianUnavailable) as err:
        fetch_package("linux-image-6.1.0-1-amd64")
    assert str(err.value) == pin.gone_message("linux-image-6.1.0-1-amd64")
    assert not (tmp_path / "kcourse" / "debian" / "linux-image-6.1.0-1-amd64").exists()
