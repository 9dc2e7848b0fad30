"""The guarded mutation path: read-only blocks before anything runs; a failed step stops the chain."""

from __future__ import annotations

import pytest

from tui.kube.guard import Guard, Mutation, ReadOnlyError, StepResult


def recording_mutation(calls: list[str], dry_ok: bool = True, apply_ok: bool = True) -> Mutation:
    def step(name: str, ok: bool):
        def run() -> StepResult:
            calls.append(name)
            return StepResult(ok, f"{name} {'ok' if ok else 'failed'}")
        return run

    return Mutation("create Service dev/web", "kind: Service", step("dry-run", dry_ok), step("apply", apply_ok),
                    step("verify", True))


def test_read_only_blocks_before_any_step() -> None:
    calls: list[str] = []
    with pytest.raises(ReadOnlyError, match="create Service dev/web is blocked: svcscope was started with --read-only"):
        Guard(read_only=True).run(recording_mutation(calls), confirm=lambda m, r: True)
    assert calls == []


def test_all_steps_in_order_when_confirmed() -> None:
    calls: list[str] = []
    results = Guard().run(recording_mutation(calls), confirm=lambda m, r: True)
    assert calls == ["dry-run", "apply", "verify"]
    assert [r.ok for r in results] == [True, True, True]


def test_declined_confirmation_applies_nothing() -> None:
    calls: list[str] = []
    Guard().run(recording_mutation(calls), confirm=lambda m, r: False)
    assert calls == ["dry-run"]


def test_failed_dry_run_stops_and_failed_apply_skips_verify() -> None:
    calls: list[str] = []
    results = Guard().run(recording_mutation(calls, dry_ok=False), confirm=lambda m, r: True)
    assert calls == ["dry-run"] and not results[-1].ok
    calls.clear()
    results = Guard().run(recording_mutation(calls, apply_ok=False), confirm=lambda m, r: True)
    assert calls == ["dry-run", "apply"] and results[-1].message == "apply failed"
