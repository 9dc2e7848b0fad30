"""The one guarded path every mutation takes: preview, server-side dry run, confirm, apply, verify.

Creating a Service, deleting one, patching the kube-proxy ConfigMap and restarting kube-proxy all go through a
`Mutation`, so `--read-only` is enforced in one place and every screen and one-shot command shows the same steps.
No Textual here: screens drive the steps and render their results; one-shot commands print them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


class ReadOnlyError(Exception):
    """Raised before anything is sent when svcscope runs with --read-only."""


@dataclass(frozen=True)
class StepResult:
    ok: bool
    message: str  # one sentence an admin can act on
    detail: str = ""  # e.g. the server-filled YAML of a dry run, or a diff


@dataclass
class Mutation:
    """A change, described before it is made.

    `preview` is the exact text that will be sent (YAML or a diff). `dry_run`, `apply` and `verify` return a
    StepResult and never raise for API errors (they turn them into words); `verify` may be None when applying is
    its own proof (a create that the server acknowledged).
    """

    title: str  # "create Service dev/web", "switch kube-proxy to ipvs"
    preview: str
    dry_run: Callable[[], StepResult]
    apply: Callable[[], StepResult]
    verify: Callable[[], StepResult] | None = None
    log: list[StepResult] = field(default_factory=list)


@dataclass(frozen=True)
class Guard:
    read_only: bool = False

    def check(self, action: str) -> None:
        if self.read_only:
            raise ReadOnlyError(f"{action} is blocked: svcscope was started with --read-only")

    def run(self, mutation: Mutation, confirm: Callable[[Mutation, StepResult], bool]) -> list[StepResult]:
        """dry run -> confirm -> apply -> verify, stopping at the first failed step; returns every step's result."""
        self.check(mutation.title)
        steps = [mutation.dry_run()]
        if not steps[-1].ok or not confirm(mutation, steps[-1]):
            mutation.log.extend(steps)
            return steps
        steps.append(mutation.apply())
        if steps[-1].ok and mutation.verify is not None:
            steps.append(mutation.verify())
        mutation.log.extend(steps)
        return steps
