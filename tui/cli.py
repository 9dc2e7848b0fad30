"""Command line: the TUI by default, `--demo` against the embedded cluster, one-shot subcommands that print and exit.

Each one-shot subcommand lives in its own module under `tui.commands` and registers itself; this file only knows
their names, so adding one is one line in `COMMANDS` and nothing else here changes.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn, Sequence

from tui import __version__

# Modules under tui.commands, each with register(subparsers). Order is the order of `svcscope --help`.
COMMANDS: tuple[str, ...] = (
    "sim",
    "services",
    "endpointslices",
    "proxy_mode",
    "dig",
    "ipvs",
    "check",
    "create",
    "probe",
)


CONNECTION_DEFAULTS = {"kubeconfig": None, "context": None, "namespace": None, "all_namespaces": False,
                       "demo": False, "read_only": False}


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    """The flags every command that talks to a cluster shares (kubectl's names and meanings).

    They may stand before or after the subcommand (`svcscope -n dev services` as `svcscope services -n dev`): on
    subcommands they default to SUPPRESS, so a subcommand never overwrites what was given before it; the top-level
    parser holds the real defaults.
    """
    s = argparse.SUPPRESS
    parser.add_argument("--kubeconfig", default=s,
                        help="path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--context", default=s, help="the kubeconfig context to use (default: the current context)")
    parser.add_argument("-n", "--namespace", default=s, help="the namespace to show (default: the context's namespace)")
    parser.add_argument("-A", "--all-namespaces", action="store_true", default=s, help="show every namespace")
    parser.add_argument(
        "--demo", action="store_true", default=s,
        help="run against an embedded simulated cluster (no real cluster needed)",
    )
    parser.add_argument(
        "--read-only", action="store_true", default=s,
        help="never change anything in the cluster or on this node",
    )


class _Probe(argparse.ArgumentParser):
    """Reads just enough of a command line to find the command word; never prints or exits."""

    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


def _command_word(argv: Sequence[str]) -> str | None:
    """The subcommand `argv` names (None: the TUI; "": not known without every command, as for --help)."""
    probe = _Probe(add_help=False)
    add_connection_args(probe)
    probe.add_argument("rest", nargs=argparse.REMAINDER)
    try:
        known, _ = probe.parse_known_args(argv)
    except ValueError:
        return ""  # the real parser will say what is wrong
    if known.rest:
        return known.rest[0]
    return "" if any(a in ("-h", "--help") for a in argv) else None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; with `argv`, only as much of it as that command line needs. Importing a command costs
    what it imports (the kubernetes client, pyroute2, dnspython): start-up must not pay for every command."""
    parser = argparse.ArgumentParser(
        prog="svcscope",
        description="Kubernetes Services, EndpointSlices, IPVS and DNS, joined live in one terminal UI.",
    )
    parser.add_argument("--version", action="version", version=f"svcscope {__version__}")
    add_connection_args(parser)
    parser.set_defaults(**CONNECTION_DEFAULTS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    word = "" if argv is None else _command_word(argv)
    if word is None:
        return parser  # the TUI: no command to import
    module = word.replace("-", "_")
    if module in COMMANDS:  # named after its module: import that one only
        importlib.import_module(f"tui.commands.{module}").register(sub)
        if word in sub.choices:
            return parser
    for name in COMMANDS:  # an alias (svc), --help or a typo: register in order until the word is known
        if name != module:
            importlib.import_module(f"tui.commands.{name}").register(sub)
        if word and word in sub.choices:
            break
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is not None:
        try:
            return int(func(args) or 0)
        except KeyboardInterrupt:
            return 130
    from tui.commands.tui import run_tui  # imported late: one-shot commands must not pay for Textual

    return run_tui(args)


if __name__ == "__main__":
    sys.exit(main())
