import pytest

from kcourse.cli import SUBCOMMANDS, main


def test_no_arguments_prints_usage_and_fails(capsys):
    assert main([]) == 2
    assert "usage: kcourse" in capsys.readouterr().out


def test_help_lists_every_subcommand(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out


def test_unknown_command_is_one_clear_line(capsys):
    assert main(["insmodd"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kcourse: unknown command 'insmodd'")


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_subcommand_entry_point_exists(name):
    import importlib

    module, func, _ = SUBCOMMANDS[name]
    assert callable(getattr(importlib.import_module(module), func))


def test_lab_starts_as_root_too():
    """Jupyter Server exits with 'Running as root is not recommended' unless --allow-root."""
    from kcourse.cli import lab_argv

    assert "--allow-root" in lab_argv("nb", [], euid=0)
    assert "--allow-root" not in lab_argv("nb", [], euid=1000)
    assert lab_argv("nb", ["--allow-root"], euid=0).count("--allow-root") == 1
