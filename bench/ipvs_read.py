"""Reading a large IPVS table: svcscope's netlink reader against `ipvsadm -Ln --exact`, side by side, in the qemu
guest (a real kernel), and how long the reader stalls a running event loop.

    python bench/ipvs_read.py                  # boots the guest (tests/kernel/kvm/run.sh) and runs the bench there
    python bench/ipvs_read.py --services 2000  # a smaller table
    python bench/ipvs_read.py --guest ...      # what runs inside the guest (needs root and ip_vs)

Prints each run's times, the median ratio reader/ipvsadm (target: within 1.5x), and the event loop's worst stall
while a read is in flight (a task ticking every millisecond measures the gaps between its ticks).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def restore_text(services: int, dests: int) -> str:
    """`ipvsadm -R` input: `services` TCP virtual servers with `dests` Masq real servers each."""
    lines = []
    for i in range(services):
        vip = f"10.{96 + i // 65536}.{i // 256 % 256}.{i % 256}"
        lines.append(f"-A -t {vip}:80 -s rr")
        for j in range(dests):
            lines.append(f"-a -t {vip}:80 -r 10.{200 + j}.{i // 256 % 256}.{i % 256}:8080 -m -w 1")
    return "\n".join(lines) + "\n"


async def _stall_during(coro_factory) -> tuple[object, float, float]:
    """Run one read while a task ticks every 1 ms; returns (result, seconds, worst gap between ticks in s)."""
    worst = 0.0
    stop = False

    async def ticker() -> None:
        nonlocal worst
        last = time.perf_counter()
        while not stop:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            worst = max(worst, now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    t0 = time.perf_counter()
    result = await coro_factory()
    elapsed = time.perf_counter() - t0
    stop = True
    await task
    return result, elapsed, worst


def guest(services: int, dests: int, runs: int) -> int:
    sys.path.insert(0, str(ROOT))
    from tui.ipvs import ipvsadm
    from tui.ipvs.netlink import NetlinkReader

    for m in ("ip_vs", "ip_vs_rr"):
        subprocess.run(["modprobe", m], check=True)
    t0 = time.perf_counter()
    subprocess.run(["ipvsadm", "-C"], check=True)
    subprocess.run(["ipvsadm", "-R"], input=restore_text(services, dests), text=True, check=True)
    print(f"table: {services} virtual servers x {dests} real servers, restored in {time.perf_counter() - t0:.1f}s")

    def ipvsadm_once() -> float:
        t = time.perf_counter()
        subprocess.run(["ipvsadm", "-Ln", "--exact"], stdout=subprocess.DEVNULL, check=True)
        return time.perf_counter() - t

    async def idle() -> None:
        await asyncio.sleep(1.0)

    async def cold_read():
        reader = NetlinkReader()  # a fresh reader: every entry decoded and built anew
        try:
            return await reader.read()
        finally:
            reader.close()

    async def main() -> int:
        warm = NetlinkReader()  # kept across reads, as the IPVS pane keeps it: unchanged entries are reused
        try:
            table = await warm.read()  # also the imports and the family lookup
            ref = subprocess.run(["ipvsadm", "-Ln", "--exact"], capture_output=True, text=True, check=True).stdout
            same = ipvsadm.render(table) == ref
            t = time.perf_counter()
            ipvsadm.render(table)
            t_render = time.perf_counter() - t
            _, _, idle_stall = await _stall_during(idle)
            ref_t, cold_t, warm_t, cold_stall, warm_stall = [], [], [], [], []
            for i in range(runs):
                ref_t.append(ipvsadm_once())
                t = time.perf_counter()
                await cold_read()
                cold_t.append(time.perf_counter() - t)
                t = time.perf_counter()
                await warm.read()
                warm_t.append(time.perf_counter() - t)
                cold_stall.append((await _stall_during(cold_read))[2])
                warm_stall.append((await _stall_during(warm.read))[2])
                print(f"run {i + 1}: ipvsadm -Ln --exact >/dev/null {ref_t[-1]:.2f}s | reader cold {cold_t[-1]:.2f}s "
                      f"(x{cold_t[-1] / ref_t[-1]:.2f}), warm {warm_t[-1]:.2f}s (x{warm_t[-1] / ref_t[-1]:.2f}) | "
                      f"worst loop stall: cold {cold_stall[-1] * 1000:.0f} ms, warm {warm_stall[-1] * 1000:.0f} ms")
            med = statistics.median
            print(f"median: ipvsadm {med(ref_t):.2f}s; netlink reader cold {med(cold_t):.2f}s "
                  f"(ratio {med(cold_t) / med(ref_t):.2f}), warm {med(warm_t):.2f}s "
                  f"(ratio {med(warm_t) / med(ref_t):.2f}); target <= 1.5")
            print(f"reader's table printed as ipvsadm prints it: identical {same}; printing it takes {t_render:.2f}s")
            print(f"event loop ticking every 1 ms while a read is in flight: worst stall cold {max(cold_stall) * 1000:.0f}"
                  f" ms (median {med(cold_stall) * 1000:.0f}), warm {max(warm_stall) * 1000:.0f} ms (median "
                  f"{med(warm_stall) * 1000:.0f}); idle baseline in this guest {idle_stall * 1000:.0f} ms")
            return 0 if same else 1
        finally:
            warm.close()

    return asyncio.run(main())


def host(args: argparse.Namespace) -> int:
    py = sys.executable
    purelib = sysconfig.get_paths()["purelib"]
    cmd = (f"cd {ROOT} && PYTHONPATH={ROOT}:{purelib} {py} -S bench/ipvs_read.py --guest "
           f"--services {args.services} --dests {args.dests} --runs {args.runs}")
    env = dict(os.environ, KVM_TIMEOUT=str(args.timeout))
    return subprocess.run([str(ROOT / "tests/kernel/kvm/run.sh"), cmd], env=env).returncode


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--guest", action="store_true", help="run the bench here (inside the guest)")
    p.add_argument("--services", type=int, default=10_000)
    p.add_argument("--dests", type=int, default=5)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--timeout", type=int, default=1500, help="seconds before the guest is killed")
    return p.parse_args()


if __name__ == "__main__":
    a = parse()
    sys.exit(guest(a.services, a.dests, a.runs) if a.guest else host(a))
