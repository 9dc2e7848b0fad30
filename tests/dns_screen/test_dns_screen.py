"""The DNS screen against the demo cluster's DNS over real UDP: `:dig NAME`, the answer, the verdict against the
live EndpointSlices, stale DNS after a scale-up, NXDOMAIN, and servers that refuse or never answer."""

from __future__ import annotations

import socket

from textual.widgets import Input, Log, Select

from tui.dns.probe import DigResult
from tui.screens.dns import DnsScreen, expand_name
from tui.sim.resources import BY_KIND

SIZE = (80, 24)
HEADLESS = "service-headliness.dev.svc.cluster.local"
DEPLOYMENT, SLICE = BY_KIND["Deployment"], BY_KIND["EndpointSlice"]


async def wait_until(pilot, predicate, what: str, attempts: int = 400):
    for _ in range(attempts):
        value = predicate()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def ready_addresses(sim, service: str) -> set[str]:
    out = set()
    for obj in sim.store.list(SLICE, "dev")[0]:
        if obj["metadata"].get("labels", {}).get("kubernetes.io/service-name") != service:
            continue
        for ep in obj.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready", True):
                out.update(ep["addresses"])
    return out


async def dig(pilot, command: str) -> DnsScreen:
    await pilot.press("colon", *command, "enter")
    screen = await wait_until(pilot, lambda: isinstance(pilot.app.screen, DnsScreen) and pilot.app.screen,
                              "the DNS screen")
    await wait_until(pilot, lambda: screen.outcomes or screen.status.startswith(("No ", "The ", "Type ")), "an answer")
    return screen


async def rerun(pilot, screen: DnsScreen) -> None:
    screen.outcomes = []
    screen.query_one("#dns-name", Input).focus()
    await pilot.press("enter")
    await wait_until(pilot, lambda: screen.outcomes, "the new answer")


def answer_text(screen: DnsScreen) -> str:
    return "\n".join(screen.query_one("#dns-answer", Log).lines)


def test_expand_name_turns_service_words_into_fqdns():
    assert expand_name("svc/web", "dev", "cluster.local") == "web.dev.svc.cluster.local"
    assert expand_name("svc/shop/web", "dev", "cluster.local") == "web.shop.svc.cluster.local"
    assert expand_name("shop/web", "dev", "cluster.local") == "web.shop.svc.cluster.local"
    assert expand_name("web", "dev", "k.test") == "web.dev.svc.k.test"
    assert expand_name("10.96.0.10", "dev", "cluster.local") == "10.96.0.10"
    assert expand_name("a.b.svc.cluster.local.", "dev", "cluster.local") == "a.b.svc.cluster.local"


async def test_dig_headless_service_shows_the_endpoints_and_ok_then_fail_when_dns_is_stale(demo, make_dns_app):
    sim, sim_dns = demo
    app = make_dns_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await dig(pilot, f"dig {HEADLESS}")
        expected = ready_addresses(sim, "service-headliness")
        assert len(expected) == 3
        [outcome] = screen.outcomes
        assert isinstance(outcome, DigResult) and outcome.status == "NOERROR"
        assert {r.rdata for r in outcome.answer if r.rdtype == "A"} == expected
        text = answer_text(screen)
        for ip in expected:
            assert ip in text
        assert "status: NOERROR" in text and ";; WHEN:" not in text
        assert screen.verdict is not None and screen.verdict.state == "OK"
        # presets for the Service: its name, one per endpoint name and one PTR per address
        presets = screen._presets
        assert presets[0].name == HEADLESS + "." or presets[0].name.rstrip(".") == HEADLESS
        assert {p.name for p in presets if p.qtype == "PTR"} == expected

        sim_dns.freeze()
        sim.store.mutate(DEPLOYMENT, "dev", "pc-deployment", lambda o: o["spec"].__setitem__("replicas", 4))
        await wait_until(pilot, lambda: len(ready_addresses(sim, "service-headliness")) == 4, "a 4th ready pod")
        [new] = ready_addresses(sim, "service-headliness") - expected
        await rerun(pilot, screen)
        assert screen.verdict is not None and screen.verdict.state == "FAIL"
        lines = screen.verdict.lines()
        assert any(line.split()[:2] == ["missing", new] for line in lines), lines
        assert "FAIL" in str(screen.query_one("#dns-verdict").render())


async def test_every_coredns_pod_answers_side_by_side_and_disagreement_is_named(demo, make_dns_app):
    sim, sim_dns = demo
    app = make_dns_app()
    pods = sorted(p["metadata"]["name"] for p in sim.store.list(BY_KIND["Pod"], "kube-system")[0]
                  if p["metadata"].get("labels", {}).get("k8s-app") == "kube-dns")
    assert len(pods) >= 2
    async with app.run_test(size=SIZE) as pilot:
        screen = await dig(pilot, f"dig {HEADLESS}")
        sim_dns.freeze(pods[0])
        sim.store.mutate(DEPLOYMENT, "dev", "pc-deployment", lambda o: o["spec"].__setitem__("replicas", 4))
        await wait_until(pilot, lambda: len(ready_addresses(sim, "service-headliness")) == 4, "a 4th ready pod")
        screen.outcomes = []
        screen.query_one("#dns-server", Select).value = "coredns"  # changing the server asks again
        await wait_until(pilot, lambda: len(screen.outcomes) == len(pods), "one answer per CoreDNS pod")
        text = answer_text(screen)
        for pod in pods:
            assert f";; ---- CoreDNS pod {pod}" in text
        assert screen.verdict.state == "FAIL"
        assert any("CoreDNS pods disagree" in line for line in screen.verdict.lines())


async def test_a_name_that_does_not_exist_is_one_nxdomain_line(make_dns_app):
    app = make_dns_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await dig(pilot, "dig svc/no-such-service")
        assert screen.outcomes[0].status == "NXDOMAIN"
        assert screen.status == ("no-such-service.dev.svc.cluster.local. does not exist (NXDOMAIN) according to "
                                 "kube-system/kube-dns Service (10.96.0.10) at 12:00:00 UTC.")


async def test_servers_that_refuse_or_never_answer_are_one_line_each(make_dns_app):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never read: a server that does not answer
    silent.bind(("127.0.0.1", 0))
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    app = make_dns_app()
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen = await dig(pilot, "dig")
            assert screen.status.startswith("Type a name")
            screen.query_one("#dns-custom", Input).value = f"127.0.0.1:{silent.getsockname()[1]}"
            screen.query_one("#dns-name", Input).value = HEADLESS
            screen.query_one("#dns-server", Select).value = "custom"
            await wait_until(pilot, lambda: screen.outcomes, "the timeout")
            assert screen.status.startswith(f"no answer from 127.0.0.1#{silent.getsockname()[1]}")
            assert "within 2 s" in screen.status and "\n" not in screen.status
            assert screen.verdict is not None and screen.verdict.state == "FAIL"
            screen.query_one("#dns-custom", Input).value = f"127.0.0.1:{closed_port}"
            await rerun(pilot, screen)
            assert "refused" in screen.status and "\n" not in screen.status
            screen.query_one("#dns-custom", Input).value = "not-an-address"
            await pilot.press("enter")
            await wait_until(pilot, lambda: screen.status.startswith("The custom server"), "the usage line")
            assert "is not an IP address" in screen.status
    finally:
        silent.close()


async def test_keyboard_only_a_preset_then_esc_back(make_dns_app):
    app = make_dns_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await dig(pilot, "dig svc/service-headliness")
        presets = await wait_until(pilot, lambda: screen._presets, "the Service's presets")
        await pilot.press("tab", "tab", "tab")  # name -> type -> server -> presets
        assert screen.focused is screen.query_one("#dns-preset", Select)
        screen.outcomes = []
        await pilot.press("enter", "down", "down", "enter")  # the blank prompt, then preset 0, then preset 1
        want = presets[1]
        await wait_until(pilot, lambda: screen.outcomes and screen.outcomes[0].qname == want.name.rstrip(".") + ".",
                         "the preset's answer")
        assert screen.outcomes[0].status == "NOERROR" and screen.verdict.state == "OK"
        assert screen.query_one("#dns-name", Input).value == want.name.rstrip(".")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, DnsScreen), "esc back to the main screen")
