import shutil

from kcourse import pin, setup_check


def test_each_check_agrees_with_the_machine():
    checks = {c.feature: c for c in setup_check.run_checks()}
    assert checks["objdump comparisons"].ok == (shutil.which("objdump") is not None)
    qemu = checks["real-kernel lab (QEMU)"]
    assert qemu.ok == (shutil.which("qemu-system-x86_64") is not None)
    if not qemu.ok:
        assert "qemu-system-x86" in qemu.line()


def test_missing_headers_name_the_pinned_package(tmp_path):
    check = setup_check._headers(tmp_path)
    assert not check.ok
    pinned = f"linux-headers-{pin.abi()}-amd64"
    assert f"apt-get install {pinned} build-essential" in check.line()
    # Another ABI's headers (what the moving meta-package installs after a Debian update)
    # do not build modules the course kernel accepts.
    newer = f"linux-headers-{pin.abi()[:-2]}{int(pin.abi()[-2:]) + 1}-amd64"
    (tmp_path / newer).mkdir()
    (tmp_path / newer / "Makefile").write_text("")
    assert not setup_check._headers(tmp_path).ok
    (tmp_path / pinned).mkdir()
    (tmp_path / pinned / "Makefile").write_text("")
    assert setup_check._headers(tmp_path).ok


def test_report_starts_with_the_pinned_release_and_lists_each_part():
    lines = setup_check.report(drift=False).splitlines()
    assert lines[0].startswith(f"course kernel: {pin.abi()}-amd64 (Debian {pin.debian_version()}")
    features = [line.split(":", 1)[0][2:] for line in lines[1:]]
    for part in ("real module builds", "real-kernel lab image",
                 "Debian module tree (sim --debian)"):
        assert part in features
