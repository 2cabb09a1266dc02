import shutil

from kcourse import setup_check


def test_each_check_agrees_with_the_machine():
    checks = {c.feature: c for c in setup_check.run_checks()}
    assert checks["objdump comparisons"].ok == (shutil.which("objdump") is not None)
    qemu = checks["real-kernel lab (QEMU)"]
    assert qemu.ok == (shutil.which("qemu-system-x86_64") is not None)
    if not qemu.ok:
        assert "qemu-system-x86" in qemu.line()


def test_missing_headers_say_what_to_install(tmp_path):
    check = setup_check._headers(tmp_path)
    assert not check.ok and "linux-headers-amd64" in check.line()
    (tmp_path / "linux-headers-6.1.0-1-amd64").mkdir()
    (tmp_path / "linux-headers-6.1.0-1-amd64" / "Makefile").write_text("")
    assert setup_check._headers(tmp_path).ok
