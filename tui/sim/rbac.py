"""Optional RBAC for the simulated cluster: a rule set for the demo user; everything else is 403 Forbidden.

Users come from bearer tokens (tui.sim.server.TOKENS): `svcscope-demo-token` is the demo user,
`svcscope-other-token` another user who is allowed nothing. A request without credentials counts as the demo
user, because kubectl never sends credentials over plain HTTP (run the sim with tls=True for kubectl to send
its token).

A rule reads like a Role (namespaces given) or a ClusterRole bound cluster-wide (no namespaces):

    RbacRules([Rule(verbs=("get", "list", "watch"), resources=("services",), namespaces=("dev",))])

A namespaced rule does not allow cluster-wide requests (`kubectl get svc -A` lists across namespaces and needs a
cluster-wide rule), nor cluster-scoped resources, exactly as a RoleBinding does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from tui.sim import errors

DEMO_USER = "svcscope-demo"
READ_VERBS = ("get", "list", "watch")


@dataclass(frozen=True)
class Rule:
    verbs: tuple[str, ...]
    resources: tuple[str, ...] = ("*",)  # plurals, or "*"
    groups: tuple[str, ...] = ("*",)  # "" is the core group
    namespaces: tuple[str, ...] = ()  # empty: cluster-wide

    def allows(self, verb: str, group: str, plural: str, namespace: str | None) -> bool:
        if "*" not in self.verbs and verb not in self.verbs:
            return False
        if "*" not in self.groups and group not in self.groups:
            return False
        if "*" not in self.resources and plural not in self.resources:
            return False
        if self.namespaces:
            return namespace is not None and namespace in self.namespaces
        return True


class RbacRules:
    def __init__(self, rules: Iterable[Rule], user: str = DEMO_USER) -> None:
        self.rules = tuple(rules)
        self.user = user

    @classmethod
    def read_only(cls, namespaces: tuple[str, ...] = ()) -> "RbacRules":
        """What `svcscope --read-only` needs: get/list/watch on everything (in `namespaces`, or cluster-wide)."""
        return cls([Rule(READ_VERBS, namespaces=namespaces)])

    def allows(self, user: str, verb: str, group: str, plural: str, namespace: str | None) -> bool:
        return user == self.user and any(r.allows(verb, group, plural, namespace) for r in self.rules)

    def check(self, user: str, verb: str, group: str, plural: str, namespace: str | None,
              name: str | None = None, subresource: str | None = None) -> None:
        """Raise the apiserver's 403 unless allowed. A subresource is its own resource (`deployments/scale`)."""
        resource = f"{plural}/{subresource}" if subresource else plural
        if not self.allows(user, verb, group, resource, namespace):
            raise errors.forbidden(user, verb, plural, group, namespace, name, subresource)
