"""The IPVS screen as an admin uses it, against the demo cluster's kube-proxy emulator over the real client: `:ipvs`,
Services created and deleted in the sim appearing and going, the filter, `i` from a Service and enter back, the
refresh keys; and the node's own readers (IPVSSource) on /proc trees: the fallback's lacks, no ip_vs, not a node."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from tests.ipvs_pane.conftest import FIXED_NOW, main_screen, open_ipvs, synced, tree, until, vs_services
from tui.ipvs.model import IPVSTable, RealServer, Stats, VirtualServer
from tui.ipvs.source import NO_MODULE, NOT_A_NODE, IPVSSource
from tui.screens.help import HelpScreen
from tui.screens.ipvs import IPVSScreen
from tui.screens.main import MainScreen
from tui.sim.resources import BY_KIND

SIZE = (80, 24)
FIXTURES = Path(__file__).resolve().parent.parent / "ipvs" / "fixtures"


def text_of(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def cluster_ip(sim, name: str, ns: str = "dev") -> str:
    return sim.store.get(BY_KIND["Service"], ns, name)["spec"]["clusterIP"]


async def test_ipvs_shows_the_emulated_table_marked_simulated_with_services_and_pods(demo, make_app):
    sim, emulator = demo
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await synced(pilot)
        screen = await open_ipvs(pilot)
        ip = cluster_ip(sim, "service-clusterip")
        await until(pilot, lambda: vs_services(screen).get(f"TCP {ip}:80") == "dev/service-clusterip:80",
                    "the ClusterIP virtual server named after its Service")
        services = vs_services(screen)
        assert services["TCP 192.168.10.11:30002"] == "dev/service-nodeport:80"  # NodePort on node1's address
        assert services["TCP 10.96.0.1:443"] == "-"  # default/kubernetes: not in namespace dev's live state
        assert set(services) == {vs.endpoint for vs in emulator.table.virtual_servers}
        rows = tree(screen)
        group = rows[[r[0] for r in rows].index(f"TCP {ip}:80") + 1:][:3]
        pods = {p["status"]["podIP"]: p["metadata"]["name"] for p in sim.store.list(BY_KIND["Pod"], "dev")[0]}
        assert [(r[0].split("-> ")[1].split(":")[0], r[3]) for r in group] == \
            [(addr, pods[addr]) for addr in sorted(pods, key=lambda a: tuple(map(int, a.split("."))))]
        shown = text_of(app)
        assert "source: simulated kube-proxy (demo), node node1; names from namespace dev" in shown
        assert "lacks: connections and traffic: the node is simulated" in shown
        assert "IPVS [7 virtual servers]" in shown


async def test_a_service_created_in_the_sim_appears_named_and_goes_when_deleted(demo, make_app, v1):
    sim, _ = demo
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await synced(pilot)
        screen = await open_ipvs(pilot)
        v1.create_namespaced_service("dev", {
            "metadata": {"name": "shop"},
            "spec": {"selector": {"app": "nginx-pod"}, "sessionAffinity": "ClientIP",
                     "ports": [{"name": "web", "port": 8080, "targetPort": 80}]}})
        ip = await until(pilot, lambda: (sim.store.get(BY_KIND["Service"], "dev", "shop") or {}).get(
            "spec", {}).get("clusterIP"), "the ClusterIP")
        vs = f"TCP {ip}:8080"
        await until(pilot, lambda: vs_services(screen).get(vs) == "dev/shop:8080", "the new Service's VS, named")
        row = next(r for r in tree(screen) if r[0] == vs)
        assert row[1:3] == ("rr", "10800s")  # ClientIP affinity: persistent with the default timeout
        assert screen.pane.virtual_count == 8
        v1.delete_namespaced_service("shop", "dev")
        await until(pilot, lambda: vs not in vs_services(screen), "the deleted Service's VS gone")
        assert screen.pane.virtual_count == 7


async def test_filter_keeps_whole_groups_and_inverts(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await synced(pilot)
        screen = await open_ipvs(pilot)
        await until(pilot, lambda: "dev/service-nodeport:80" in vs_services(screen).values(), "names")
        await pilot.press("slash", *"service-nodeport", "enter")
        shown = vs_services(screen)
        assert set(shown.values()) == {"dev/service-nodeport:80"} and len(shown) == 2  # ClusterIP and NodePort
        assert len(tree(screen)) == 2 * 4  # each with its three real servers
        assert "IPVS [2/7 virtual servers]" in text_of(app)
        await pilot.press("slash", "ctrl+u", *"!dev/", "enter")
        assert set(vs_services(screen).values()) == {"-"} and len(vs_services(screen)) == 4
        await pilot.press("slash", "ctrl+u", *"qs6sz", "enter")  # a pod name keeps the VSs that reach it
        pods = {r[3] for r in tree(screen) if r[0].startswith("  ->")}
        assert any(p.endswith("qs6sz") for p in pods) and len(vs_services(screen)) == 3
        await pilot.press("escape")  # clears the filter
        assert screen.pane.virtual_count == 7 and isinstance(pilot.app.screen, IPVSScreen)


async def test_i_on_a_service_opens_its_virtual_servers_and_enter_jumps_back(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        assert main.services.move_cursor_to_key(("dev", "service-nodeport"))
        screen = await open_ipvs(pilot, "i")
        await until(pilot, lambda: screen.pane.virtual_count == 2, "the Service's two virtual servers")
        assert screen.pane.filter_text == "dev/service-nodeport:"
        assert set(vs_services(screen).values()) == {"dev/service-nodeport:80"}
        node_port = next(k for k in screen.pane.visible_keys() if screen.pane.row(k).cells[0].endswith(":30002"))
        screen.pane.move_cursor_to_key(node_port)
        await pilot.press("escape")  # clears the filter first; the cursor stays on the row
        assert isinstance(pilot.app.screen, IPVSScreen) and screen.pane.virtual_count == 7
        main.services.move_cursor_to_key(("dev", "service-clusterip"))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, MainScreen), "back on the main screen")
        assert main.services.cursor_key == ("dev", "service-nodeport") and main.services.has_focus


async def test_enter_on_an_unknown_virtual_server_says_so_and_stays(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await synced(pilot)
        screen = await open_ipvs(pilot)
        await until(pilot, lambda: "dev/service-nodeport:80" in vs_services(screen).values(), "names")
        assert screen.pane.cursor_key is not None and screen.pane.row(screen.pane.cursor_key).cells[3] == "-"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(pilot.app.screen, IPVSScreen)
        assert any("serves no Service known here" in str(n.message) for n in app._notifications)


async def test_refresh_keys_change_the_interval_shown_and_the_reads(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await synced(pilot)
        screen = await open_ipvs(pilot)
        assert screen.interval == 2.0 and "every 2s (+/-)" in screen.pane.border_subtitle
        await pilot.press("plus")
        assert screen.interval == 5.0 and "every 5s (+/-)" in screen.pane.border_subtitle
        await pilot.press("plus", "plus", "plus")
        assert screen.interval == 30.0  # the slowest
        for _ in range(7):
            await pilot.press("minus")
        assert screen.interval == 0.5 and "every 0.5s (+/-)" in text_of(app)
        before = screen.reads
        await until(pilot, lambda: screen.reads >= before + 4, "reads every half second")


class CountingReader:
    """A node whose traffic grows by the same amount between reads, one second apart by its clock."""

    def __init__(self) -> None:
        self.n = 0

    async def read(self) -> IPVSTable:
        self.n += 1
        n = self.n

        def st(k: int) -> Stats:
            return Stats(conns=10 * n * k, inpkts=100 * n * k, outpkts=50 * n * k, inbytes=3000 * n * k)

        vs = VirtualServer("TCP", "10.96.0.77", 80, stats=st(2), real_servers=(
            RealServer("10.244.1.2", 80, stats=st(1)), RealServer("10.244.1.3", 80, stats=st(1))))
        return IPVSTable((vs,), "netlink", read_at=FIXED_NOW + timedelta(seconds=n))

    def close(self) -> None:
        pass


async def test_rates_from_successive_reads_and_the_sparkline_of_the_selected_entry(make_app):
    reader = CountingReader()
    app = make_app(reader=lambda: reader)
    async with app.run_test(size=(160, 48)) as pilot:
        await synced(pilot)
        screen = await open_ipvs(pilot)
        await pilot.press("minus", "minus")  # 0.5 s
        await until(pilot, lambda: reader.n >= 4 and tree(screen)[0][6] != "-", "rates")
        vs_row, rs_row = tree(screen)[:2]
        assert vs_row[6:] == ("20", "300", "6.0K")  # per second: 2x(10 conns, 150 packets, 3000 bytes)
        assert rs_row[6:] == ("10", "150", "3.0K")
        spark = screen.query_one("#ipvs-spark")
        await until(pilot, lambda: len(spark.data) >= 3, "a history")
        assert set(spark.data) == {20.0}
        assert "TCP 10.96.0.77:80: conn/s 20.0  pkt/s 300.0  bytes/s 6000" in text_of(app)
        assert "CONN/S" in text_of(app) and "source: netlink" in text_of(app)


def proc_tree(tmp_path: Path, *, module: bool, table: bool) -> tuple[str, str]:
    proc, sys_root = tmp_path / "proc", tmp_path / "sys"
    (proc / "net").mkdir(parents=True)
    (sys_root / "module").mkdir(parents=True)
    if module:
        (sys_root / "module" / "ip_vs").mkdir()
    if table:
        shutil.copy(FIXTURES / "proc_ip_vs.txt", proc / "net" / "ip_vs")
        shutil.copy(FIXTURES / "proc_ip_vs_stats.txt", proc / "net" / "ip_vs_stats")
    return str(proc), str(sys_root)


async def test_the_proc_fallback_says_what_it_lacks(make_app, tmp_path):
    proc, sys_root = proc_tree(tmp_path, module=True, table=True)
    app = make_app(reader=lambda: IPVSSource("proc", proc_root=proc, sys_root=sys_root))
    async with app.run_test(size=SIZE) as pilot:
        await synced(pilot)
        screen = await open_ipvs(pilot)
        assert screen.table is not None and screen.table.source == "proc"
        shown = text_of(app)
        assert "source: /proc/net/ip_vs" in shown
        assert "lacks: per-service and per-server traffic statistics" in shown
        assert screen.pane.virtual_count == len(screen.table.virtual_servers) == 11
        assert "FWM 42" in vs_services(screen) and vs_services(screen)["FWM 42"] == "-"
        assert {r[6] for r in tree(screen)} == {"?"}  # no per-entry statistics: no rates


async def test_an_unavailable_source_shows_the_sentence_not_a_traceback(make_app, tmp_path):
    proc, sys_root = proc_tree(tmp_path, module=False, table=False)
    app = make_app(reader=lambda: IPVSSource("auto", proc_root=proc, sys_root=sys_root))
    async with app.run_test(size=SIZE) as pilot:
        await synced(pilot)
        screen = await open_ipvs(pilot)
        assert screen.error == NO_MODULE and screen.pane.total_count == 0
        shown = " ".join(text_of(app).split())
        assert "IPVS is not loaded in this kernel (no ip_vs module)" in shown and "source: unavailable" in shown
        assert "Traceback" not in shown
    shutil.rmtree(Path(sys_root) / "module")
    app = make_app(reader=lambda: IPVSSource("auto", proc_root=proc, sys_root=sys_root))
    async with app.run_test(size=SIZE) as pilot:
        await synced(pilot)
        screen = await open_ipvs(pilot)
        assert screen.error == NOT_A_NODE


async def test_the_help_lists_the_ipvs_keys(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await synced(pilot)
        assert main_screen(app).services.has_focus
        await pilot.press("question_mark")
        help_keys = {(k.group, k.key, k.description) for k in pilot.app.screen._keys}
        assert ("Main screen", "i", "IPVS of the Service") in help_keys
        await pilot.press("escape")
        await open_ipvs(pilot)
        await pilot.press("question_mark")
        assert isinstance(pilot.app.screen, HelpScreen)
        help_keys = {(k.group, k.key, k.description) for k in pilot.app.screen._keys}
        assert {("IPVS screen", "+", "slower"), ("IPVS screen", "-", "faster")} <= help_keys
        assert any(group == "IPVS pane" and what == "to Service" for group, _, what in help_keys)


async def test_i_on_a_headless_service_says_why_it_has_no_virtual_server(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        assert main.services.move_cursor_to_key(("dev", "service-headliness"))
        screen = await open_ipvs(pilot, "i")
        await until(pilot, lambda: screen.pane.total_count, "the table")
        assert screen.pane.virtual_count == 0
        shown = " ".join(text_of(app).replace("│", " ").split())  # the sentence wraps inside the pane's border
        assert "dev/service-headliness has no virtual server on this node: kube-proxy programs none for " \
               "headless and ExternalName Services" in shown
        await pilot.press("escape")
        assert screen.pane.virtual_count == 7


async def test_scaling_the_deployment_adds_real_servers_named_by_their_pods(demo, make_app):
    from kubernetes.client import AppsV1Api

    sim, _ = demo
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await synced(pilot)
        screen = await open_ipvs(pilot)
        vs = f"TCP {cluster_ip(sim, 'service-clusterip')}:80"

        def real_servers() -> list[tuple[str, ...]]:
            rows = tree(screen)
            at = [r[0] for r in rows].index(vs)
            out = []
            for r in rows[at + 1:]:
                if not r[0].startswith("  ->"):
                    break
                out.append(r)
            return out

        await until(pilot, lambda: len(real_servers()) == 3 and all(r[3] != "-" for r in real_servers()), "3 pods")
        AppsV1Api(sim.api_client()).patch_namespaced_deployment_scale(
            "pc-deployment", "dev", {"spec": {"replicas": 5}})
        await until(pilot, lambda: len(real_servers()) == 5 and all(r[3] != "-" for r in real_servers()),
                    "5 real servers, each named by its pod", timeout=40)
        pods = {p["metadata"]["name"] for p in sim.store.list(BY_KIND["Pod"], "dev")[0]
                if p["metadata"]["name"].startswith("pc-deployment")}
        assert {r[3] for r in real_servers()} == pods
