"""The command line: shared connection flags work before and after the subcommand."""

from __future__ import annotations

import pytest

from tui.cli import build_parser


@pytest.mark.parametrize("argv", [
    ["-n", "dev", "--demo", "services", "--once"],
    ["services", "--once", "-n", "dev", "--demo"],
    ["-n", "prod", "services", "--once", "-n", "dev", "--demo"],  # the later flag wins, as argparse does
])
def test_connection_flags_before_or_after_the_subcommand(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.namespace == "dev" and args.demo is True and args.once is True
    assert args.all_namespaces is False and args.kubeconfig is None and args.read_only is False


def test_defaults_without_any_flag() -> None:
    args = build_parser().parse_args([])
    assert (args.namespace, args.context, args.kubeconfig, args.all_namespaces, args.demo, args.read_only) == \
        (None, None, None, False, False, False)
    args = build_parser().parse_args(["check"])
    assert args.namespace is None and args.demo is False


# -- only the chosen command is imported (start-up: the kubernetes client, pyroute2, dnspython cost seconds) --------

def _imported_by_parsing(argv: list[str]) -> set[str]:
    """The modules a fresh interpreter holds after building the parser for `argv` and parsing it."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = ("import sys, tui.cli as c; a = sys.argv[1:]; c.build_parser(a).parse_args(a); "
            "print('\\n'.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, *argv], cwd=root, env={"PYTHONPATH": str(root)},
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_the_tui_imports_no_command_and_no_textual_to_parse() -> None:
    mods = _imported_by_parsing(["-A", "--read-only"])
    assert not {m for m in mods if m.startswith("tui.commands.")}
    assert "textual" not in mods and "kubernetes" not in mods


@pytest.mark.parametrize("argv, command", [
    (["services", "--once"], "services"),
    (["-n", "dev", "svc", "--once"], "services"),  # an alias: commands are registered in order until it is known
    (["proxy-mode"], "proxy_mode"),
])
def test_a_command_imports_itself_not_the_others(argv: list[str], command: str) -> None:
    mods = _imported_by_parsing(argv)
    assert f"tui.commands.{command}" in mods
    assert "tui.commands.ipvs" not in mods and "tui.commands.dig" not in mods and "tui.commands.check" not in mods
    assert "pyroute2" not in mods and "textual" not in mods


def test_an_alias_runs_its_command(capsys) -> None:
    from tui.cli import main

    assert main(["svc"]) == 2  # the services command's own check: --once is required
    assert capsys.readouterr().err.startswith("svcscope services: add --once")


def test_help_and_typos_still_list_every_command(capsys) -> None:
    from tui.cli import COMMANDS

    with pytest.raises(SystemExit):
        build_parser(["-h"]).parse_args(["-h"])
    out = capsys.readouterr().out
    assert all(name.replace("_", "-") in out for name in COMMANDS)
    with pytest.raises(SystemExit):
        build_parser(["servics"]).parse_args(["servics"])
    err = capsys.readouterr().err
    assert "invalid choice: 'servics'" in err and "'services'" in err and "'ipvs'" in err
