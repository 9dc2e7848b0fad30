"""Fixtures of the Service wizard's tests: the real kubectl against the `sim` fixture (tests/kubectl's), and
svcscope's own CLI run in-process."""

from __future__ import annotations

from tests.kubectl.conftest import KUBECTL, kubectl  # noqa: F401 - re-exported fixture
