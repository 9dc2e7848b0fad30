"""The command palette (ctrl+p) lists the jump commands, plus namespaces and contexts to switch to.

Commands that need an argument open the `:` command line with the command typed, so the palette and the command
line stay one way of doing things.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Callable

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from tui.jump import JUMPS, JumpCommand

if TYPE_CHECKING:
    from tui.app import SvcscopeApp


def _title(command: JumpCommand) -> str:
    return command.usage


class JumpProvider(Provider):
    @property
    def svcscope(self) -> "SvcscopeApp":
        return self.app  # type: ignore[return-value]

    def _action(self, command: JumpCommand) -> Callable[[], None]:
        if command.arg_required or command.complete is not None:
            return partial(self.svcscope.open_command_line, f"{command.name} ")
        return partial(command.handler, self.svcscope, "")

    def _switches(self) -> list[tuple[str, str, Callable[[], None]]]:
        app = self.svcscope
        out = [(f"Namespace: {ns}", f":ns {ns}", partial(app.set_namespace, ns)) for ns in app.known_namespaces]
        out.insert(0, ("Namespace: all namespaces", ":ns all", partial(app.set_namespace, "all")))
        out += [(f"Context: {ctx}", f":ctx {ctx}", partial(app.set_context, ctx)) for ctx in app.context_names()]
        return out

    async def discover(self) -> Hits:
        for command in JUMPS:
            # Content, not a str: "[NAME]" must not be read as markup
            yield DiscoveryHit(Content(_title(command)), self._action(command), help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in JUMPS:
            # match on the usage and the aliases, show the usage
            text = " ".join([_title(command), *(f":{a}" for a in command.aliases), command.help])
            score = max(matcher.match(_title(command)), matcher.match(text) * 0.8)
            if score > 0:
                yield Hit(score, matcher.highlight(_title(command)), self._action(command), help=command.help)
        for title, help_text, action in self._switches():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), action, help=help_text)
