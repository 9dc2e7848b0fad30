"""Messages that carry data from workers (sources) to the UI. Workers post these; `@on` handlers own the state.

Thread-safe to post from a thread worker (`app.post_message`).
"""

from __future__ import annotations

from textual.message import Message

from tui.kube.client import Connection
from tui.kube.connection import ConnectionState


class ConnectionStateChanged(Message):
    """A source (a watch cache, or the app's own probe) reports how its link to the API server is doing."""

    def __init__(self, state: ConnectionState) -> None:
        super().__init__()
        self.state = state


class ContextSwitched(Message):
    """A `:ctx` switch built and probed a new connection; the app takes it over."""

    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self.connection = connection


class NamespacesListed(Message):
    """The namespaces of the cluster, for `:ns` completion and the palette (empty when listing is forbidden)."""

    def __init__(self, context: str, names: tuple[str, ...]) -> None:
        super().__init__()
        self.context = context
        self.names = names
