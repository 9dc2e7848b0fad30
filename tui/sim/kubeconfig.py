"""Kubeconfig files for the simulated cluster, so that kubectl, the Python client and svcscope share one cluster."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml

from tui.sim.rbac import DEMO_USER

DEMO_TOKEN = "svcscope-demo-token"  # tui.sim.server.TOKENS maps it to the demo user
CLUSTER_NAME = "svcscope-sim"


def kubeconfig_dict(url: str, context: str = "svcscope-demo", namespace: str = "dev",
                    user: str = DEMO_USER, token: str = DEMO_TOKEN, ca_pem: bytes | None = None) -> dict[str, Any]:
    cluster: dict[str, Any] = {"server": url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": CLUSTER_NAME, "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": CLUSTER_NAME, "user": user, "namespace": namespace}}],
        "current-context": context,
    }


def write_kubeconfig(path: str | os.PathLike[str], url: str, context: str = "svcscope-demo",
                     namespace: str = "dev", ca_pem: bytes | None = None) -> Path:
    """Write (replace) a kubeconfig for the sim at `path`, readable only by its owner as kubectl's own are."""
    out = Path(path).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(yaml.safe_dump(kubeconfig_dict(url, context, namespace, ca_pem=ca_pem), sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(out)
    return out
