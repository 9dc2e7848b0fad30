"""The `:` jump commands (k9s-style): one registry read by the command line, its completion, the command palette
and the help screen, so none of them can drift from the others.

A command is data: name, aliases, an argument placeholder, one line of help, and a handler `(app, arg) -> None`.
Screens that arrive later replace their "not built yet" entry with `JUMPS.register(JumpCommand(...))`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

if TYPE_CHECKING:
    from tui.app import SvcscopeApp

Handler = Callable[["SvcscopeApp", str], None]
Completer = Callable[["SvcscopeApp"], Iterable[str]]


@dataclass(frozen=True, slots=True)
class JumpCommand:
    name: str
    help: str
    handler: Handler
    aliases: tuple[str, ...] = ()
    arg: str = ""  # placeholder for the help screen ("NAME"); "" when the command takes no argument
    arg_required: bool = False
    complete: Completer | None = None  # argument completions (namespaces, contexts, Service names)

    @property
    def words(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def usage(self) -> str:
        if not self.arg:
            return f":{self.name}"
        return f":{self.name} {self.arg}" if self.arg_required else f":{self.name} [{self.arg}]"


class UnknownJump(ValueError):
    """The command line held something that is not a command; the message is the sentence to show."""


class JumpRegistry:
    def __init__(self, commands: Iterable[JumpCommand] = ()) -> None:
        self._commands: dict[str, JumpCommand] = {}
        for command in commands:
            self.register(command)

    def register(self, command: JumpCommand) -> None:
        """Add a command, or replace the one of the same name (keeping its place in the help)."""
        for other in self._commands.values():
            clash = set(command.words) & set(other.words)
            if other.name != command.name and clash:
                raise ValueError(f":{sorted(clash)[0]} is already taken by :{other.name}")
        self._commands[command.name] = command

    def __iter__(self) -> Iterator[JumpCommand]:
        return iter(self._commands.values())

    def lookup(self, word: str) -> JumpCommand | None:
        word = word.lower()
        for command in self._commands.values():
            if word in command.words:
                return command
        return None

    def parse(self, line: str) -> tuple[JumpCommand, str]:
        text = line.strip().removeprefix(":").strip()
        if not text:
            raise UnknownJump("Type a command after the colon, for example :svc; :help lists them all.")
        word, _, arg = text.partition(" ")
        command = self.lookup(word)
        if command is None:
            every = [w for c in self for w in c.words]
            close = difflib.get_close_matches(word.lower(), every, n=1)
            hint = f"did you mean :{close[0]}? " if close else ""
            raise UnknownJump(f"Unknown command :{word}: {hint}:help lists the commands.")
        arg = arg.strip()
        if command.arg_required and not arg:
            raise UnknownJump(f":{command.name} needs {command.arg}: {command.usage}.")
        if arg and not command.arg:
            raise UnknownJump(f":{command.name} takes no argument.")
        return command, arg

    def completions(self, line: str, app: "SvcscopeApp | None" = None) -> list[str]:
        """Whole-line completions of what was typed (without the colon): command words first, then arguments."""
        text = line.lstrip().removeprefix(":")
        if " " not in text:
            prefix = text.lower()
            names = [c.name for c in self if c.name.startswith(prefix)]
            names += [a for c in self for a in c.aliases if a.startswith(prefix) and a not in names]
            return names
        word, _, arg = text.partition(" ")
        command = self.lookup(word)
        if command is None or command.complete is None or app is None:
            return []
        arg = arg.lstrip()
        return [f"{word} {choice}" for choice in command.complete(app) if choice.startswith(arg) and choice != arg]


# --- the commands ---------------------------------------------------------------------------------------------


def not_built(what: str, issue: int) -> Handler:
    def handler(app: "SvcscopeApp", arg: str) -> None:
        app.notify(f"{what} is not built yet (issue {issue}).", title="Not there yet", severity="warning")

    return handler


def _services(app: "SvcscopeApp", arg: str) -> None:
    app.jump_to_pane("services")


def _slices(app: "SvcscopeApp", arg: str) -> None:
    app.jump_to_pane("endpointslices")


def _namespace(app: "SvcscopeApp", arg: str) -> None:
    if not arg:
        app.pick_namespace()
        return
    app.set_namespace(arg)


def _context(app: "SvcscopeApp", arg: str) -> None:
    if not arg:
        app.pick_context()
        return
    app.set_context(arg)


def _dig(app: "SvcscopeApp", arg: str) -> None:
    app.open_dns(arg)


def _ipvs(app: "SvcscopeApp", arg: str) -> None:
    app.open_ipvs()


def _proxy(app: "SvcscopeApp", arg: str) -> None:
    app.open_proxy()


def _create(app: "SvcscopeApp", arg: str) -> None:
    from tui.screens.wizard import open_wizard

    open_wizard(app, arg)


def _probe(app: "SvcscopeApp", arg: str) -> None:
    from tui.screens.probe import open_probe

    open_probe(app, None, arg)


def _service_names(app: "SvcscopeApp") -> Iterable[str]:
    """The Services the main screen lists (NS/NAME when it shows every namespace)."""
    state = getattr(app.screen_stack[0], "state", None) if app.screen_stack else None
    keys = sorted(getattr(state, "services", {}) or {})
    every = getattr(app.scope, "all_namespaces", False)
    return [f"{ns}/{name}" if every else name for ns, name in keys]


def _trace(app: "SvcscopeApp", arg: str) -> None:
    app.open_trace(arg)


def _help(app: "SvcscopeApp", arg: str) -> None:
    app.action_help()


def _quit(app: "SvcscopeApp", arg: str) -> None:
    app.exit(0)


def _namespaces(app: "SvcscopeApp") -> Iterable[str]:
    return ["all", *app.known_namespaces]


def _contexts(app: "SvcscopeApp") -> Iterable[str]:
    return app.context_names()


JUMPS = JumpRegistry(
    [
        JumpCommand("svc", "the Services of the namespace (main screen)", _services, aliases=("services", "service")),
        JumpCommand(
            "ep", "the EndpointSlices of the selected Service", _slices, aliases=("slices", "endpointslices", "eps")
        ),
        JumpCommand("ns", "switch namespace (`all`: every one; no name: a picker)", _namespace, arg="NAME", complete=_namespaces),
        JumpCommand("ctx", "switch kubeconfig context (no name: a picker)", _context, aliases=("context",), arg="NAME", complete=_contexts),
        JumpCommand("ipvs", "this node's IPVS table", _ipvs),
        JumpCommand("dig", "the DNS screen: dig a name (svc/NAME, FQDN), judged by the slices", _dig, arg="NAME"),
        JumpCommand("proxy", "kube-proxy mode and settings", _proxy),
        JumpCommand("trace", "a Service's chain: slices, IPVS, pods, DNS (no name: the selected one)", _trace,
                    arg="NAME", complete=_service_names),
        JumpCommand("create", "the Service wizard (TYPE: clusterip, headless, nodeport, loadbalancer, externalname)",
                    _create, arg="TYPE"),
        JumpCommand("probe", "connect N times to a Service from this node: which pod took each (-c N, --http)",
                    _probe, arg="NAME", arg_required=True, complete=_service_names),
        JumpCommand("help", "every key and command", _help, aliases=("h", "?")),
        JumpCommand("quit", "leave svcscope", _quit, aliases=("q", "q!", "exit")),
    ]
)
