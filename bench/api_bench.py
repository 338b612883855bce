"""Neutron API throughput and latency, against a real `regionmesh serve` process on loopback.

Prints: port creates/s (1 client; 8 concurrent clients), GET of a 100-port page (p50/p99 ms)
with 10 000 ports in the database, and the time of one 100-rule security-group bulk create.
Figures only; nothing is asserted. Usage: python bench/api_bench.py [--database URL] [--ports N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

PROJECT = "bench" + "0" * 27
HEADERS = {"X-Project-Id": PROJECT, "X-Roles": "member,reader"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(database: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    exe = Path(sys.executable).with_name("regionmesh")
    proc = subprocess.Popen([str(exe), "serve", "--noauth", "--port", str(port), "--database", database,
                             "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            httpx.get(url + "/", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.05)  # waiting for the listener, bounded by the deadline
    proc.kill()
    raise SystemExit("server did not start")


class LeanClient:
    """A keep-alive stdlib HTTP client: measures the server, not the client library's overhead."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.headers = {**HEADERS, "Content-Type": "application/json"}

    def post(self, path: str, body: dict) -> dict:  # type: ignore[type-arg]
        self.conn.request("POST", "/v2.0" + path, json.dumps(body), self.headers)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status >= 300:
            raise SystemExit(f"POST {path} -> {resp.status}: {data[:300]!r}")
        return json.loads(data)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.conn.close()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--ports", type=int, default=10_000, help="ports in the database for the page test")
    parser.add_argument("--creates", type=int, default=400, help="ports per create measurement")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="rm-bench-")
    database = args.database or f"sqlite:///{tmp}/bench.db"
    proc, url = start_server(database)
    try:
        api = url + "/v2.0"
        unlimited = {k: -1 for k in ("network", "subnet", "port", "security_group", "security_group_rule")}
        httpx.put(f"{api}/quotas/{PROJECT}", json={"quota": unlimited}).raise_for_status()  # admin (noauth)
        with httpx.Client(base_url=api, headers=HEADERS, timeout=60) as c:
            net = c.post("/networks", json={"network": {"name": "bench"}}).json()["network"]
            c.post("/subnets", json={"subnet": {"network_id": net["id"], "cidr": "10.128.0.0/9",
                                                 "ip_version": 4}}).raise_for_status()
            body = {"port": {"network_id": net["id"]}}
        lean = LeanClient(url)
        lean.post("/ports", body)  # warm-up: default security group, caches
        t0 = time.perf_counter()
        for _ in range(args.creates):
            lean.post("/ports", body)
        single = args.creates / (time.perf_counter() - t0)
        lean.close()
        print(f"port create, 1 client:        {single:8.1f} ports/s", flush=True)

        def worker(n: int) -> None:
            wc = LeanClient(url)
            for _ in range(n):
                wc.post("/ports", body)
            wc.close()

        per = args.creates // 8
        t0 = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(worker, [per] * 8))
        concurrent = per * 8 / (time.perf_counter() - t0)
        print(f"port create, 8 clients:       {concurrent:8.1f} ports/s", flush=True)

        with httpx.Client(base_url=api, headers=HEADERS, timeout=120) as c:
            have = len(c.get("/ports?fields=id").json()["ports"])
            t0 = time.perf_counter()
            while have < args.ports:
                n = min(100, args.ports - have)
                c.post("/ports", json={"ports": [{"network_id": net["id"]}] * n}).raise_for_status()
                have += n
            fill = time.perf_counter() - t0
            print(f"filled to {have} ports in {fill:.1f} s (bulk of 100)", flush=True)
            ids = sorted(p["id"] for p in c.get("/ports?fields=id").json()["ports"])
            times: list[float] = []
            for i in range(300):
                marker = "" if i % 10 == 0 else f"&marker={random.choice(ids[:-100])}"
                t0 = time.perf_counter()
                resp = c.get(f"/ports?limit=100&sort_key=id{marker}")
                times.append((time.perf_counter() - t0) * 1000)
                assert len(resp.json()["ports"]) == 100
            print(f"GET 100-port page ({have} ports): p50 {statistics.median(times):6.1f} ms, "
                  f"p99 {pct(times, 99):6.1f} ms", flush=True)
            sg = c.post("/security-groups", json={"security_group": {"name": "bulk"}}).json()["security_group"]
            rules = [{"security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp",
                      "port_range_min": p, "port_range_max": p} for p in range(1000, 1100)]
            t0 = time.perf_counter()
            resp = c.post("/security-group-rules", json={"security_group_rules": rules})
            resp.raise_for_status()
            took = (time.perf_counter() - t0) * 1000
            print(f"security group rule bulk create, 100 rules: {took:7.1f} ms "
                  f"({len(resp.json()['security_group_rules'])} created)", flush=True)
    finally:
        proc.terminate()
        proc.wait(10)
        if not args.database:
            for f in Path(tmp).glob("*"):
                os.unlink(f)
            os.rmdir(tmp)


if __name__ == "__main__":
    main()
