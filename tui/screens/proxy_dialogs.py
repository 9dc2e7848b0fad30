"""The kube-proxy screen's modal steps: choose the change, read the preflight, confirm the diff.

Each is a `ModalScreen[T]` that only renders what it is given and dismisses with the admin's answer (escape: None,
which every caller reads as "stop, nothing changes"). The work behind them is the screen's workers' business.
"""

from __future__ import annotations

from typing import Callable, Literal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, Select, Static

from tui.kube.guard import StepResult
from tui.kube.preflight import Preflight
from tui.kube.proxy_config import DEFAULT_SCHEDULER, MODES, SCHEDULERS, ConfigChange, ProxyConfig

PreflightAnswer = Literal["continue", "override", "load"]

_DIALOG_CSS = """
    {cls} {{ align: center middle; }}
    {cls} > Vertical {{ width: 78; max-width: 100%; height: auto; max-height: 100%; border: thick $primary;
                        background: $surface; padding: 0 1; }}
    {cls} .title {{ text-style: bold; width: 100%; }}
    {cls} .buttons {{ height: 1; margin-top: 1; }}
    {cls} .buttons Button {{ margin-right: 2; }}
"""


class SwitchDialog(ModalScreen[ConfigChange | None]):
    """Target mode, IPVS scheduler and strictARP, starting from what is configured now."""

    AUTO_FOCUS = "#switch-mode"
    BINDINGS = [Binding("escape", "cancel", "cancel", key_display="esc")]
    DEFAULT_CSS = _DIALOG_CSS.format(cls="SwitchDialog") + """
    SwitchDialog .row { height: 1; margin-top: 1; }
    SwitchDialog .row Label { width: 16; }
    SwitchDialog .row Select { width: 24; }
    SwitchDialog #switch-note { margin-top: 1; color: $text-muted; }
    """

    def __init__(self, current: ProxyConfig) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        cur = self.current
        schedulers = list(SCHEDULERS) if cur.scheduler in SCHEDULERS else [cur.scheduler, *SCHEDULERS]
        with Vertical():
            yield Static("Change kube-proxy's configuration", classes="title")
            yield Static(f"Configured now: mode {cur.mode}, IPVS scheduler {cur.scheduler}, strictARP "
                         f"{str(cur.strict_arp).lower()}.")
            with Horizontal(classes="row"):
                yield Label("mode")
                yield Select([(m, m) for m in MODES], value=cur.mode if cur.mode in MODES else MODES[0],
                             allow_blank=False, id="switch-mode", compact=True)
            with Horizontal(classes="row"):
                yield Label("IPVS scheduler")
                yield Select([(s, s) for s in schedulers], value=cur.scheduler, allow_blank=False,
                             id="switch-scheduler", compact=True)
            with Horizontal(classes="row"):
                yield Label("strictARP")
                yield Checkbox("ipvs.strictARP", cur.strict_arp, id="switch-strict-arp", compact=True)
            yield Static("Next: a preflight on this node, then the diff of config.conf to confirm.", id="switch-note")
            with Horizontal(classes="buttons"):
                yield Button("Next", variant="primary", id="switch-next", compact=True)
                yield Button("Cancel", id="switch-cancel", compact=True)


    def change(self) -> ConfigChange:
        """Only what differs from the configured values: an unchanged setting is left as the admin wrote it."""
        cur = self.current
        mode = str(self.query_one("#switch-mode", Select).value)
        scheduler = str(self.query_one("#switch-scheduler", Select).value)
        strict = self.query_one("#switch-strict-arp", Checkbox).value
        return ConfigChange(
            mode=mode if mode != cur.mode else None,
            scheduler=scheduler if scheduler != (cur.scheduler or DEFAULT_SCHEDULER) else None,
            strict_arp=strict if strict != cur.strict_arp else None,
        )

    @on(Button.Pressed, "#switch-next")
    def _next(self) -> None:
        change = self.change()
        if change.is_empty():
            self.notify("Nothing differs from the configured values: change the mode, the scheduler or strictARP.",
                        severity="warning")
            return
        self.dismiss(change)

    @on(Button.Pressed, "#switch-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def preflight_text(pre: Preflight, shown: Callable[[str], str] = lambda text: text) -> Text:
    """One line per check: pass/warn/FAIL, the check, what was found; the fix command under a failed one.
    `shown` rewrites what was found for display (a simulated node's files without their temporary root)."""
    text = Text()
    marks = {"pass": ("pass", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "bold red")}
    for i, check in enumerate(pre.checks):
        label, style = marks[check.status]
        if i:
            text.append("\n")
        text.append(f"{label:<4} ", style=style)
        text.append(check.name, style="bold")
        text.append(f": {shown(check.detail)}")
        if not check.ok and check.fix_command:
            text.append("\n     fix: ", style="dim")
            text.append(check.fix_command, style="cyan")
    return text


class PreflightDialog(ModalScreen[PreflightAnswer | None]):
    """The checks for the target mode on this node; a failed blocking check needs an explicit override."""

    BINDINGS = [Binding("escape", "cancel", "cancel", key_display="esc")]
    DEFAULT_CSS = _DIALOG_CSS.format(cls="PreflightDialog") + """
    PreflightDialog #preflight-checks { height: auto; max-height: 14; }
    PreflightDialog #preflight-summary { margin-top: 1; }
    """

    def __init__(self, title: str, preflight: Preflight, can_load: bool,
                 shown: Callable[[str], str] = lambda text: text) -> None:
        super().__init__()
        self.title_text = title
        self.preflight = preflight
        self.can_load = can_load
        self.shown = shown
        # The safe answer has the focus when the checks failed: overriding takes a deliberate move.
        self.AUTO_FOCUS = "#preflight-cancel" if preflight.blocked else "#preflight-continue"

    def compose(self) -> ComposeResult:
        pre = self.preflight
        summary = pre.summary().replace("override with --force", "override it here")
        with Vertical():
            yield Static(f"Preflight: {self.title_text}", classes="title")
            with VerticalScroll(id="preflight-checks"):
                yield Static(preflight_text(pre, self.shown))
            style = "bold red" if pre.blocked else ("yellow" if pre.warnings else "green")
            yield Static(Text(summary[:1].upper() + summary[1:] + ".", style=style), id="preflight-summary")
            with Horizontal(classes="buttons"):
                if pre.blocked:
                    yield Button("Override and continue", variant="error", id="preflight-override", compact=True)
                else:
                    yield Button("Continue", variant="primary", id="preflight-continue", compact=True)
                if self.can_load and pre.loadable_modules:
                    yield Button(f"Load {', '.join(pre.loadable_modules)}", variant="warning", id="preflight-load",
                                 compact=True)
                yield Button("Cancel", id="preflight-cancel", compact=True)


    @on(Button.Pressed, "#preflight-continue")
    def _continue(self) -> None:
        self.dismiss("continue")

    @on(Button.Pressed, "#preflight-override")
    def _override(self) -> None:
        self.dismiss("override")

    @on(Button.Pressed, "#preflight-load")
    def _load(self) -> None:
        self.dismiss("load")

    @on(Button.Pressed, "#preflight-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def diff_text(diff: str) -> Text:
    text = Text()
    for line in diff.splitlines():
        style = ("bold" if line.startswith(("---", "+++")) else "green" if line.startswith("+") else
                 "red" if line.startswith("-") else "cyan" if line.startswith("@@") else "")
        text.append(line + "\n", style=style)
    text.rstrip()
    return text


class ConfirmDialog(ModalScreen[bool]):
    """The diff that will be written and the server's dry-run answer; Apply is the only way on."""

    AUTO_FOCUS = "#confirm-cancel"  # a stray enter must not apply
    BINDINGS = [Binding("escape", "cancel", "cancel", key_display="esc")]
    DEFAULT_CSS = _DIALOG_CSS.format(cls="ConfirmDialog") + """
    ConfirmDialog #confirm-diff { height: auto; max-height: 12; border: round $surface-lighten-2; }
    ConfirmDialog #confirm-then { margin-top: 1; color: $text-muted; }
    """

    def __init__(self, title: str, diff: str, dry_run: StepResult, then: str) -> None:
        super().__init__()
        self.title_text = title
        self.diff = diff
        self.dry_run = dry_run
        self.then = then

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text[:1].upper() + self.title_text[1:] + "?", classes="title")
            with VerticalScroll(id="confirm-diff"):
                yield Static(diff_text(self.diff) if self.diff else Text("(config.conf does not change)"))
            yield Static(Text(self.dry_run.message[:1].upper() + self.dry_run.message[1:] + ".", style="green"))
            yield Static(self.then, id="confirm-then")
            with Horizontal(classes="buttons"):
                yield Button("Apply", variant="warning", id="confirm-apply", compact=True)
                yield Button("Cancel", id="confirm-cancel", compact=True)


    @on(Button.Pressed, "#confirm-apply")
    def _apply(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
