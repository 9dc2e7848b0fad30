"""Shared helpers for the offline IPVS tests: the real-kernel fixtures captured by fixtures/capture.sh."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixture_text():
    return lambda name: (FIXTURES / name).read_text()


@pytest.fixture
def kernel_netlink() -> dict:
    """Raw IPVS netlink replies from Debian's 6.1 kernel: {"family", "info", "services": [hex], "dests": [[hex]]}."""
    return json.loads((FIXTURES / "netlink.json").read_text())
