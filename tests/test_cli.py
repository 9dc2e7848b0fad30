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
