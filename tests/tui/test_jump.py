"""The jump command registry on its own: parsing, completion, replacing a "not built yet" entry."""

from __future__ import annotations

import pytest

from tui.jump import JUMPS, JumpCommand, JumpRegistry, UnknownJump


def noop(app, arg):
    return None


def test_parse_finds_names_and_aliases_with_their_argument():
    assert JUMPS.parse(":svc")[0].name == "svc"
    assert JUMPS.parse("services")[0].name == "svc"
    command, arg = JUMPS.parse(":ns   kube-system ")
    assert (command.name, arg) == ("ns", "kube-system")
    assert JUMPS.parse("q")[0].name == "quit"


def test_parse_errors_are_sentences():
    with pytest.raises(UnknownJump, match=r"^Unknown command :sevc: did you mean :svc\? :help lists the commands\.$"):
        JUMPS.parse(":sevc")
    with pytest.raises(UnknownJump, match=r"^:proxy takes no argument\.$"):
        JUMPS.parse("proxy now")
    with pytest.raises(UnknownJump, match=r"^Type a command after the colon"):
        JUMPS.parse(":")
    needs = JumpRegistry([JumpCommand("scale", "scale it", noop, arg="N", arg_required=True)])
    with pytest.raises(UnknownJump, match=r"^:scale needs N: :scale N\.$"):
        needs.parse("scale")


def test_completions_of_words_then_arguments():
    class FakeApp:  # only what the completers read
        known_namespaces = ("default", "dev", "kube-system")

        def context_names(self):
            return ["kind-dev", "prod"]

    app = FakeApp()
    assert JUMPS.completions("i") == ["ipvs"]
    assert JUMPS.completions("e") == ["ep", "endpointslices", "eps", "exit"]
    assert JUMPS.completions("ns d", app) == ["ns default", "ns dev"]
    assert JUMPS.completions("ns kube-system", app) == []  # already complete
    assert JUMPS.completions("ctx p", app) == ["ctx prod"]
    assert JUMPS.completions("proxy x", app) == []


def test_register_replaces_in_place_and_refuses_clashes():
    registry = JumpRegistry([JumpCommand("a", "first", noop), JumpCommand("b", "second", noop, aliases=("bee",))])
    registry.register(JumpCommand("a", "built now", noop, aliases=("aa",)))
    assert [c.help for c in registry] == ["built now", "second"]
    with pytest.raises(ValueError, match=r"^:bee is already taken by :b$"):
        registry.register(JumpCommand("c", "third", noop, aliases=("bee",)))
