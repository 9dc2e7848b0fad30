"""The DNS probe against dig, and the simulated cluster's DNS at scale.

Why: the DNS screen probes a Service's names (and every CoreDNS pod) while the admin waits; a probe must cost no
more than dig's own query. dig runs in batch mode (`dig -f`: one process, many queries) so process start-up is not
counted against it. The sim's DNS must stay responsive with 10,000 Services: its index is built once, then each
store change recomputes one Service.

Prints: per-query time of the probe and of dig against the same dnsmasq (best of 3 rounds, N queries each) and the
ratio probe/dig; then the sim DNS's first index build, the cost of one change, and per-answer time.
Run: python bench/dns_probe.py [N] [SERVICES]
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run the checkout this script is in
sys.path.insert(0, str(ROOT / "tests" / "dns"))

import dns.message  # noqa: E402

from dnskit import endpoint, free_port, port, service_obj, slice_obj, wait_for  # noqa: E402
from tui.dns.probe import DigResult, DnsServer, probe  # noqa: E402
from tui.sim.dns_server import SimDns  # noqa: E402
from tui.sim.resources import BY_KIND  # noqa: E402
from tui.sim.store import Store  # noqa: E402

NAMES = ["web.default.svc.cluster.local", "hl.default.svc.cluster.local", "nope.default.svc.cluster.local"]


def probe_vs_dig(n: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    hosts = tmp / "hosts"
    hosts.write_text("10.96.0.10 web.default.svc.cluster.local\n" +
                     "".join(f"10.244.1.{i} hl.default.svc.cluster.local\n" for i in range(1, 6)))
    p = free_port()
    proc = subprocess.Popen(["/usr/sbin/dnsmasq", "--no-resolv", "--no-hosts", f"--port={p}",
                             "--listen-address=127.0.0.1", "--bind-interfaces", "--keep-in-foreground",
                             "--conf-file=/dev/null", "--local=/cluster.local/", f"--addn-hosts={hosts}",
                             f"--pid-file={tmp / 'pid'}"], stderr=subprocess.DEVNULL)
    server = DnsServer("127.0.0.1", p)
    try:
        wait_for(lambda: isinstance(probe(NAMES[0], "A", server, timeout=0.5, tries=1), DigResult), what="dnsmasq")
        batch = tmp / "batch"
        batch.write_text("".join(f"{NAMES[i % 3]} A\n" for i in range(n)))
        ours, theirs = [], []
        for _ in range(3):
            t = time.perf_counter()
            for i in range(n):
                probe(NAMES[i % 3], "A", server)
            ours.append((time.perf_counter() - t) / n)
            t = time.perf_counter()
            subprocess.run(["/usr/bin/dig", "@127.0.0.1", "-p", str(p), "+nocookie", "-f", str(batch)],
                           stdout=subprocess.DEVNULL, check=True)
            theirs.append((time.perf_counter() - t) / n)
        o, d = min(ours), min(theirs)
        print(f"probe: {o * 1e6:8.0f} us/query   dig -f: {d * 1e6:8.0f} us/query   ratio probe/dig: {o / d:.2f}")
    finally:
        proc.terminate()
        proc.wait()


def sim_at_scale(services: int) -> None:
    st = Store(history=10)
    svc, sl = BY_KIND["Service"], BY_KIND["EndpointSlice"]
    for i in range(services):
        ns, name = f"ns-{i % 50}", f"svc-{i}"
        headless = i % 5 == 0
        st.create(svc, service_obj(ns, name, "None" if headless else f"10.{96 + i // 62500}.{i // 250 % 250}."
                                                                       f"{i % 250 + 1}", [port("http", 80)]))
        st.create(sl, slice_obj(ns, name, [endpoint(f"10.{200 + (i * 5 + j) // 62500}.{(i * 5 + j) // 250 % 250}."
                                                    f"{(i * 5 + j) % 250 + 1}") for j in range(5)],
                                [port("http", 8080)]))
    d = SimDns(st)
    loop = asyncio.new_event_loop()
    d.follow_store()
    t = time.perf_counter()
    d.index()
    first = time.perf_counter() - t
    st.mutate(sl, "ns-0", "svc-0-ipv4", lambda o: o["endpoints"].pop())
    t = time.perf_counter()
    d.index()
    change = time.perf_counter() - t
    q = dns.message.make_query("svc-0.ns-0.svc.cluster.local.", "A").to_wire()
    t = time.perf_counter()
    for _ in range(500):
        d.answer(q, "", udp=True)
    per = (time.perf_counter() - t) / 500
    print(f"sim DNS, {services} Services: first index {first:.2f} s, one change {change * 1e3:.2f} ms, "
          f"answer {per * 1e6:.0f} us")
    d.stop()
    loop.close()


if __name__ == "__main__":
    probe_vs_dig(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
    sim_at_scale(int(sys.argv[2]) if len(sys.argv) > 2 else 10000)
