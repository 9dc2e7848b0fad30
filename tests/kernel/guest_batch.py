"""Everything the kernel tests check, done in one qemu boot (run inside the guest as root; not a test module).

    python3 -S tests/kernel/guest_batch.py OUT_DIR

Writes OUT_DIR/results.json and text files beside it; the host-side tests (test_ipvs_kernel.py) assert on them.
Order matters: first the checks that need ip_vs absent, then one varied table (several hundred services, IPv4 and
IPv6, TCP/UDP/SCTP, firewall marks, persistence, weights 0..N, many schedulers, live connections for non-zero
counters) read by every reader and by ipvsadm, then the kube-proxy emulator programming the kernel.

Python starts slowly under TCG and `python -m tui` imports every command (the kubernetes client among them): about
a minute and a half per CLI run here. So CLI runs go in the background, two at a time, while this process does the
in-process checks; the table they read does not change until all of them are done.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

OUT = Path(sys.argv[1])
results: dict = {"errors": []}
PY = [sys.executable, "-S"]  # -S: site's .pth processing alone costs seconds under TCG; PYTHONPATH has the rest
ENV = dict(os.environ)
NO_NET_ADMIN = ["setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin"]
SCHEDULERS = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"]  # no twos in 6.1


def save(name: str, text: str) -> str:
    (OUT / name).write_text(text)
    return name


def sh(*cmd: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), input=input, capture_output=True, text=True, check=check)


class CLI:
    """`python -m tui ...` in the background; .result() gives (rc, stdout, stderr)."""

    slots = threading.Semaphore(2)

    def __init__(self, args: list[str], prefix: list[str] | None = None) -> None:
        self.cmd = (prefix or []) + PY + ["-m", "tui"] + args
        self.out: tuple[int, str, str] | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with self.slots:
            t = time.monotonic()
            r = subprocess.run(self.cmd, capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=900)
            self.out = (r.returncode, r.stdout, r.stderr)
            self.seconds = time.monotonic() - t

    def result(self) -> tuple[int, str, str]:
        self.thread.join()
        assert self.out is not None
        return self.out


def record_cli(key: str, cli: CLI) -> None:
    rc, out, err = cli.result()
    results[key] = {"rc": rc, "stdout": save(f"{key}.out", out), "stderr": save(f"{key}.err", err),
                    "seconds": round(cli.seconds, 1), "cmd": " ".join(cli.cmd)}


# -- the varied table ---------------------------------------------------------------------------------------------

FEATURES = """\
-A -t 10.96.0.1:443 -s rr
-a -t 10.96.0.1:443 -r 192.168.10.11:6443 -m -w 1
-a -t 10.96.0.1:443 -r 10.244.1.5:8443 -m -w 0
-a -t 10.96.0.1:443 -r 172.16.0.9:8443 -g -w 3 -x 1000 -y 100
-A -u 10.96.0.10:53 -s wrr -p 3600 -M 255.255.255.0 -o
-a -u 10.96.0.10:53 -r 10.244.2.2:53 -i -w 5 -x 100 -y 10
-a -u 10.96.0.10:53 -r 10.244.3.3:53 -m -w 65535
-A -t 192.168.99.1:30080 -s sh -b sh-port,sh-fallback
-a -t 192.168.99.1:30080 -r 10.244.9.9:80 -m
-A -t [2001:db8::10]:80 -s mh -b mh-port -p 60 -M 64
-a -t [2001:db8::10]:80 -r [2001:db8:0:0:1::5]:8080 -m
-a -t [2001:db8::10]:80 -r [fd00::2]:8080 -m -w 2
-A -u [fd00:10:96::a]:53 -s rr
-a -u [fd00:10:96::a]:53 -r [fd00:10:244:1::7]:53 -m
-A -f 42 -s lc
-a -f 42 -r 10.1.1.1:0 -g
-A -f 7 -6 -s rr -p
-A -f 9 -s wlc -p 120 -M 255.255.0.0
-A --sctp-service 10.96.0.20:9999 -s rr
-a --sctp-service 10.96.0.20:9999 -r 10.244.5.5:9999 -m
-A -u 10.96.0.11:5060 -s rr -p 30 --pe sip
-a -u 10.96.0.11:5060 -r 10.244.6.6:5060 -m
-A -t 10.0.0.100:80 -s rr
-a -t 10.0.0.100:80 -r 10.0.0.1:8080 -m
"""


def generated_rules(n: int, seed: int = 4) -> str:
    """n more services of every kind, deterministic: schedulers, persistence, weights 0..N, v4/v6, protocols."""
    rnd = random.Random(seed)
    lines = []
    for i in range(n):
        v6 = i % 5 == 4
        proto = ["-t", "-u", "--sctp-service"][i % 3] if i % 7 else "-t"
        vip = f"[fd00:96::{i:x}]" if v6 else f"10.100.{i // 250}.{i % 250 + 1}"  # unique: no rule is refused
        port = rnd.choice([53, 80, 443, 8080, 9153, 30000 + i])
        sched = SCHEDULERS[i % len(SCHEDULERS)]
        opts = f"-s {sched}"
        if i % 4 == 0:
            opts += f" -p {rnd.choice([1, 30, 10800, 86400])}"
            if i % 8 == 0:
                opts += " -M 96" if v6 else " -M 255.255.255.0"
        if i % 11 == 0 and proto == "-u":
            opts += " -o"
        lines.append(f"-A {proto} {vip}:{port} {opts}")
        for j in range(i % 6):
            net = rnd.choice(["10.244", "192.168", "172.16"])  # far apart: ipvsadm's wrapping sort shows
            rip = f"[fd00:244:{i:x}::{j + 1}]" if v6 else f"{net}.{i % 250}.{j + 1}"
            fwd = "-m" if j % 3 else rnd.choice(["-m", "-g", "-i"])
            lines.append(f"-a {proto} {vip}:{port} -r {rip}:{8000 + j} {fwd} -w {rnd.randint(0, 100) if j else 0}")
    return "\n".join(lines) + "\n"


def hold_connections(count: int) -> list[socket.socket]:
    """Established TCP connections through 10.0.0.100:80 (Masq to a local server), kept open and idle so the
    counters are non-zero and stay put while every reader reads."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("10.0.0.1", 8080))
    srv.listen(16)
    accepted: list[socket.socket] = []

    def serve() -> None:
        while True:
            conn, _ = srv.accept()
            accepted.append(conn)
            conn.sendall(conn.recv(100).upper())

    threading.Thread(target=serve, daemon=True).start()
    clients = []
    for i in range(count):
        c = socket.create_connection(("10.0.0.100", 80), timeout=10)
        c.sendall(b"hello %d" % i)
        c.recv(100)
        clients.append(c)
    time.sleep(1)
    return clients + accepted + [srv]


# -- the kube-proxy emulator's scenario ---------------------------------------------------------------------------

def emulator_objects() -> tuple[list, list, list]:
    def svc(name, type_="ClusterIP", ip="10.96.1.1", ports=None, **spec):
        status = spec.pop("status", {})
        ips = spec.pop("clusterIPs", [ip])
        return {"metadata": {"name": name, "namespace": "dev", "labels": spec.pop("labels", {})},
                "spec": {"type": type_, "clusterIP": ip, "clusterIPs": ips,
                         "ports": ports or [{"name": "http", "port": 80, "protocol": "TCP"}], **spec},
                "status": status}

    def ep(ip, node="node2", ready=True, serving=None, terminating=None):
        cond = {k: v for k, v in (("ready", ready), ("serving", serving), ("terminating", terminating))
                if v is not None}
        return {"addresses": [ip], "conditions": cond, "nodeName": node}

    def sl(service, endpoints, ports=None, name=None, family="IPv4"):
        return {"metadata": {"name": name or f"{service}-x", "namespace": "dev",
                             "labels": {"kubernetes.io/service-name": service}},
                "addressType": family, "endpoints": endpoints,
                "ports": ports or [{"name": "http", "port": 8080, "protocol": "TCP"}]}

    http_np = [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}]
    services = [
        svc("web", ip="10.96.1.1"),
        svc("web-np", "NodePort", "10.96.1.2", http_np),
        svc("web-lb", "LoadBalancer", "10.96.1.3",
            [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30081}], externalIPs=["203.0.113.7"],
            status={"loadBalancer": {"ingress": [{"ip": "198.51.100.9"}]}}),
        svc("sticky", ip="10.96.1.4", sessionAffinity="ClientIP",
            sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}}),
        svc("dns", ip="10.96.0.10", ports=[{"name": "dns", "port": 53, "protocol": "UDP"},
                                           {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]),
        svc("sctp", ip="10.96.1.5", ports=[{"name": "s", "port": 9999, "protocol": "SCTP"}]),
        svc("local", "NodePort", "10.96.1.6", [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30082}],
            externalTrafficPolicy="Local"),
        svc("dual", ip="10.96.1.7", clusterIPs=["10.96.1.7", "fd00:96::7"], ipFamilyPolicy="PreferDualStack"),
        svc("headless", ip="None", clusterIPs=["None"]),
    ]
    slices = [
        sl("web", [ep("10.244.1.5"), ep("10.244.2.6", terminating=True, ready=False, serving=True),
                   ep("10.244.3.7", ready=False)]),
        sl("web-np", [ep("10.244.1.8", node="node1"), ep("10.244.2.9")]),
        sl("web-lb", [ep("10.244.1.10")]),
        sl("sticky", [ep("10.244.1.11"), ep("10.244.2.12")]),
        sl("dns", [ep("10.244.0.2"), ep("10.244.0.3", terminating=True, ready=False, serving=True)],
           ports=[{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]),
        sl("sctp", [ep("10.244.1.13")], ports=[{"name": "s", "port": 9999, "protocol": "SCTP"}]),
        sl("local", [ep("10.244.1.14", node="node1"), ep("10.244.2.15", node="node2")]),
        sl("dual", [ep("10.244.1.16")]),
        sl("dual", [ep("fd00:244::16")], name="dual-v6", family="IPv6"),
        sl("headless", [ep("10.244.1.17")]),
    ]
    nodes = [{"metadata": {"name": "node1"}, "status": {"addresses": [
                 {"type": "InternalIP", "address": "192.168.10.11"},
                 {"type": "InternalIP", "address": "fd00:10::11"}]}},
             {"metadata": {"name": "node2"}, "status": {"addresses": [
                 {"type": "InternalIP", "address": "192.168.10.12"}]}}]
    return services, slices, nodes


def comparable(vs_list):
    """Virtual servers as the kernel holds them, for comparing an emulated table with one read back."""
    from tui.ipvs.ipvsadm import sort_dests, sort_services

    return [replace(vs, real_servers=tuple(sort_dests(vs.real_servers))) for vs in sort_services(vs_list)]


# -- the batch ----------------------------------------------------------------------------------------------------

def step(name: str):
    def wrap(fn):
        def run(*a, **kw):
            t = time.monotonic()
            try:
                return fn(*a, **kw)
            except Exception:
                results["errors"].append(f"{name}: {traceback.format_exc()}")
            finally:
                results.setdefault("timings", {})[name] = round(time.monotonic() - t, 1)
        return run
    return wrap


@step("no-module")
def no_module_checks() -> None:
    results["release"] = os.uname().release
    results["ip_vs_loaded_at_boot"] = os.path.isdir("/sys/module/ip_vs")
    record_cli("cli_no_module", CLI(["ipvs", "--once"]))
    results["ip_vs_loaded_after_cli"] = os.path.isdir("/sys/module/ip_vs")

    async def lookup() -> str:  # what the /sys/module check spares: does the bare family lookup autoload ip_vs?
        from tui.ipvs.netlink import NetlinkReader, NetlinkReadError

        r = NetlinkReader()
        try:
            await r.read()
            return "read"
        except NetlinkReadError as e:
            return f"{type(e).__name__}: {e}"
        finally:
            r.close()

    results["bare_lookup"] = asyncio.run(lookup())
    results["ip_vs_loaded_after_bare_lookup"] = os.path.isdir("/sys/module/ip_vs")


@step("build-table")
def build_table() -> list:
    loaded = {}
    for m in ["ip_vs", "dummy", "sctp", "ip_vs_pe_sip"] + [f"ip_vs_{s}" for s in SCHEDULERS]:
        loaded[m] = sh("modprobe", m, check=False).returncode == 0
    results["modules"] = loaded
    for cmd in (["ip", "link", "add", "d0", "type", "dummy"], ["ip", "link", "set", "d0", "up"],
                ["ip", "addr", "add", "10.0.0.1/24", "dev", "d0"], ["ip", "addr", "add", "10.0.0.100/32", "dev", "d0"]):
        sh(*cmd)
    sh("ipvsadm", "-C")
    rules = FEATURES + generated_rules(320)
    save("rules.txt", rules)
    sh("ipvsadm", "-R", input=rules)
    held = hold_connections(3)
    results["ipvsadm_Ln"] = save("ipvsadm_Ln.txt", sh("ipvsadm", "-Ln", "--exact").stdout)
    results["ipvsadm_stats"] = save("ipvsadm_stats.txt", sh("ipvsadm", "-Ln", "--stats", "--exact").stdout)
    return held


@step("readers")
def reader_checks() -> None:
    from tui.ipvs import ipvsadm
    from tui.ipvs.netlink import NetlinkReader, read_netlink
    from tui.ipvs.procfs import read_proc_table

    t = time.monotonic()
    table = asyncio.run(read_netlink())
    results["netlink_seconds"] = round(time.monotonic() - t, 2)

    async def twice():  # a reader kept across refreshes reuses what did not change, and reads the same table
        reader = NetlinkReader()
        try:
            first = await reader.read()
            return first, await reader.read()
        finally:
            reader.close()

    first, second = asyncio.run(twice())
    # (the one service with live connections is left out: the kernel's rate estimates in its stats keep moving)
    unchanged = [(a, b) for a, b in zip(first.virtual_servers, second.virtual_servers) if a.address != "10.0.0.100"]
    results["reuse_same_objects"] = len(unchanged) > 300 and all(a is b for a, b in unchanged)
    results["reuse_same_table"] = (ipvsadm.render(second) == ipvsadm.render(table) and
                                   ipvsadm.render(second, stats=True) == ipvsadm.render(table, stats=True))
    results["netlink_services"] = len(table.virtual_servers)
    results["netlink_real_servers"] = table.real_server_count
    results["netlink_kinds"] = sorted({(vs.protocol or "FWM") + ("6" if vs.af == socket.AF_INET6 else "")
                                       for vs in table.virtual_servers})
    results["netlink_schedulers"] = sorted({vs.scheduler for vs in table.virtual_servers})
    results["netlink_weights"] = sorted({rs.weight for vs in table.virtual_servers for rs in vs.real_servers})
    results["reader_Ln"] = save("reader_Ln.txt", ipvsadm.render(table))
    results["reader_stats"] = save("reader_stats.txt", ipvsadm.render(table, stats=True))
    web = table.find("TCP", "10.0.0.100", 80)
    results["held_connections"] = {"active": web.real_servers[0].active_conns, "conns": web.stats.conns,
                                   "inbytes": web.stats.inbytes} if web else None

    proc = read_proc_table()
    results["proc_hz"], results["proc_hz_source"] = proc.hz, proc.hz_source
    results["proc_Ln"] = save("proc_Ln.txt", ipvsadm.render(proc))
    # The netlink table without what /proc cannot show must be the /proc table.
    lacks_free = []
    for vs in table.virtual_servers:
        flags = vs.flags & 0x1 | (vs.flags & 0x4 if vs.af == socket.AF_INET else 0)
        lacks_free.append(replace(vs, flags=flags, pe_name="", stats=None, real_servers=tuple(
            replace(rs, persistent_conns=None, u_threshold=None, l_threshold=None, stats=None, tun_type=None,
                    tun_port=None, tun_flags=None) for rs in vs.real_servers)))
    results["proc_equals_netlink_minus_lacks"] = comparable(proc.virtual_servers) == comparable(lacks_free)
    if not results["proc_equals_netlink_minus_lacks"]:
        a, b = comparable(proc.virtual_servers), comparable(lacks_free)
        results["proc_first_difference"] = next((f"{x} != {y}" for x, y in zip(a, b) if x != y), "lengths differ")


@step("cli-table")
def start_table_clis() -> list[tuple[str, CLI]]:
    return [("cli_ipvsadm", CLI(["ipvs", "--once", "-o", "ipvsadm"])),
            ("cli_ipvsadm_stats", CLI(["ipvs", "--once", "-o", "ipvsadm", "--stats"])),
            ("cli_no_cap_auto", CLI(["ipvs", "--once", "-o", "ipvsadm"], prefix=NO_NET_ADMIN)),
            ("cli_no_cap_netlink", CLI(["ipvs", "--once", "--source", "netlink"], prefix=NO_NET_ADMIN))]


@step("emulator")
def emulator_checks() -> None:
    from tui.ipvs import ipvsadm
    from tui.ipvs.netlink import read_netlink
    from tui.sim.kubeproxy import EmulatorConfig, emulate, program

    services, slices, nodes = emulator_objects()
    out = {}
    for sched in ("", "mh", "wrr"):
        emulated = emulate(services, slices, nodes, "node1", EmulatorConfig(scheduler=sched))
        asyncio.run(program(emulated))
        back = asyncio.run(read_netlink())
        key = sched or "rr"
        out[key] = {
            "services": len(emulated.virtual_servers), "real_servers": emulated.real_server_count,
            "same_model": comparable(back.virtual_servers) == comparable(emulated.virtual_servers),
            "emulated_Ln": save(f"emulated_{key}_Ln.txt", ipvsadm.render(emulated)),
            "ipvsadm_Ln": save(f"emulated_{key}_ipvsadm.txt", sh("ipvsadm", "-Ln", "--exact").stdout),
        }
        if not out[key]["same_model"]:
            a, b = comparable(back.virtual_servers), comparable(emulated.virtual_servers)
            out[key]["first_difference"] = next((f"{x} != {y}" for x, y in zip(a, b) if x != y), "lengths differ")
    results["emulator"] = out


# -- svcscope check's findings on a kernel the emulator programmed, then broken by hand ---------------------------

CHECK_NODE = "node1"


def scenario_objects():
    """The tutorial scenario's objects as the host's simulated cluster settled them (conftest writes the file)."""
    from tui.trace.gather import Objects

    data = json.loads((OUT.parent / "scenario.json").read_text())
    return Objects(data["services"], data["slices"], data["pods"], data["nodes"], data["kube_proxy_configmap"])


@step("check-breaks")
def check_breaks() -> None:
    """Program the scenario's table, break one rule with ipvsadm, and record what the trace (svcscope check's
    engine) finds against the table read back over netlink."""
    from tui.ipvs.netlink import read_netlink
    from tui.sim.kubeproxy import EmulatorConfig, emulate, program
    from tui.trace.gather import node_context, proxy_settings, service_states
    from tui.trace.join import trace_service

    objs = scenario_objects()
    states = service_states(objs)
    _, scheduler = proxy_settings(objs.kube_proxy_configmap)
    emulated = emulate(objs.services, objs.slices, objs.nodes, CHECK_NODE, EmulatorConfig(scheduler=scheduler))
    web = next(s.service for s in states if s.service.key == ("dev", "service-clusterip"))
    vs = emulated.find("TCP", web.cluster_ip, 80)
    rip = sorted(rs.address for rs in vs.real_servers)[0]
    vip = f"{web.cluster_ip}:80"
    results["check_target"] = {"vip": vip, "rip": f"{rip}:80", "real_servers": len(vs.real_servers)}
    breaks = {
        "clean": [],
        "delete-real-server": ["-d", "-t", vip, "-r", f"{rip}:80"],
        "zero-weight": ["-e", "-t", vip, "-r", f"{rip}:80", "-m", "-w", "0"],
        "scheduler": ["-E", "-t", vip, "-s", "wrr"],
    }
    out = {}
    for name, cmd in breaks.items():
        asyncio.run(program(emulated))
        if cmd:
            sh("ipvsadm", *cmd)
        table = asyncio.run(read_netlink())
        ctx = node_context(objs, CHECK_NODE, table)
        found = {}
        for state in states:
            t = trace_service(state, ctx)
            found[f"{state.service.namespace}/{state.service.name}"] = [
                [f.level, f.code, f.subject, f.message] for f in t.all_findings if f.level != "info"]
        out[name] = {"findings": found, "virtual_servers": len(table.virtual_servers),
                     "ipvsadm": save(f"check_{name}_ipvsadm.txt", sh("ipvsadm", "-Ln").stdout)}
    results["check_breaks"] = out


# -- the reachability probe through real IPVS to pods in network namespaces ---------------------------------------

PROBE_PODS = 3


def probe_network() -> None:
    """kube-proxy's layout in miniature: ClusterIPs on a dummy kube-ipvs0, pods in network namespaces behind veth
    pairs, each serving its own index.html over HTTP (busybox httpd, IPv4 port 80 and IPv6 port 8080)."""
    for m in ("veth", "dummy", "ip_vs_rr"):
        sh("modprobe", m)
    sh("sysctl", "-qw", "net.ipv4.vs.conntrack=1")  # as kube-proxy sets it
    sh("ip", "link", "add", "kube-ipvs0", "type", "dummy")
    sh("ip", "link", "set", "kube-ipvs0", "up")
    for addr in ("10.96.50.1/32", "10.96.50.2/32", "10.96.50.3/32"):
        sh("ip", "addr", "add", addr, "dev", "kube-ipvs0")
    sh("ip", "addr", "add", "fd00:96::1/128", "dev", "kube-ipvs0", "nodad")
    for i in range(1, PROBE_PODS + 1):
        ns, www = f"pod{i}", Path(f"/tmp/www{i}")
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", f"vh{i}", "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "addr", "add", f"10.244.{i}.1/24", "dev", f"vh{i}")
        sh("ip", "addr", "add", f"fd00:244:{i}::1/64", "dev", f"vh{i}", "nodad")
        sh("ip", "link", "set", f"vh{i}", "up")
        sh("ip", "-n", ns, "addr", "add", f"10.244.{i}.10/24", "dev", "eth0")
        sh("ip", "-n", ns, "addr", "add", f"fd00:244:{i}::10/64", "dev", "eth0", "nodad")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", f"10.244.{i}.1")
        sh("ip", "-n", ns, "-6", "route", "add", "default", "via", f"fd00:244:{i}::1")
        www.mkdir(parents=True, exist_ok=True)
        (www / "index.html").write_text(f"pod{i}\n")  # the tutorial's index.html experiment
        sh("ip", "netns", "exec", ns, "busybox", "httpd", "-p", "80", "-h", str(www))
        sh("ip", "netns", "exec", ns, "busybox", "httpd", "-p", "[::]:8080", "-h", str(www))
    rules = ["-A -t 10.96.50.1:80 -s rr", "-A -t 10.96.50.2:80 -s rr -p 600", "-A -t 10.96.50.3:80 -s rr",
             "-A -t [fd00:96::1]:80 -s rr"]
    for i in range(1, PROBE_PODS + 1):
        rules += [f"-a -t 10.96.50.1:80 -r 10.244.{i}.10:80 -m", f"-a -t 10.96.50.2:80 -r 10.244.{i}.10:80 -m",
                  f"-a -t [fd00:96::1]:80 -r [fd00:244:{i}::10]:8080 -m",
                  # the third pod of 10.96.50.3 is "crashed": nothing listens on its port 81
                  f"-a -t 10.96.50.3:80 -r 10.244.{i}.10:{81 if i == PROBE_PODS else 80} -m"]
    sh("ipvsadm", "-R", input="\n".join(rules) + "\n")
    time.sleep(1)  # busybox httpd daemonizes: let it bind


@step("probe")
def probe_checks() -> None:
    from tui.trace.probe import Target, run_probe
    from tui.trace.probe_setup import read_virtual_server

    probe_network()
    pods = {f"10.244.{i}.10:80": f"dev/pod{i}" for i in range(1, PROBE_PODS + 1)}
    pods.update({f"[fd00:244:{i}::10]:8080": f"dev/pod{i}" for i in range(1, PROBE_PODS + 1)})
    runs = {
        "rr_http": (Target("10.96.50.1", 80, role="ClusterIP", service="dev/web", affinity="None"), 12, True),
        "rr_tcp": (Target("10.96.50.1", 80), 6, False),
        "sticky_http": (Target("10.96.50.2", 80, role="ClusterIP", service="dev/sticky", affinity="ClientIP"),
                        12, True),
        "affinity_not_applied": (Target("10.96.50.1", 80, service="dev/web", affinity="ClientIP"), 6, True),
        "one_down": (Target("10.96.50.3", 80), 9, True),
        "rr_ipv6": (Target("fd00:96::1", 80), 6, True),
    }
    out = {}
    for name, (target, count, http) in runs.items():
        vs, note = read_virtual_server(target)
        result = run_probe(target, count, http=http, virtual_server=vs, pods=pods, timeout=10)
        out[name] = {**result.to_dict(), "ipvsNote": note}
    results["probe"] = out
    results["probe_conn_table"] = save("probe_ip_vs_conn.txt", Path("/proc/net/ip_vs_conn").read_text())
    results["probe_ipvsadm"] = save("probe_ipvsadm.txt", sh("ipvsadm", "-Ln").stdout)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    no_module_checks()
    held = build_table()
    clis = start_table_clis() or []
    reader_checks()
    for key, cli in clis:
        record_cli(key, cli)
    sh("ipvsadm", "-Ln", "--exact")  # the table is still the one the CLIs read
    results["ipvsadm_Ln_after"] = save("ipvsadm_Ln_after.txt", sh("ipvsadm", "-Ln", "--exact").stdout)
    for s in held or []:
        s.close()
    emulator_checks()
    check_breaks()
    probe_checks()
    results["total_seconds"] = round(time.monotonic() - t0, 1)
    (OUT / "results.json").write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
