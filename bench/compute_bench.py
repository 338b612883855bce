"""Lab compute: boots/s and deletes/s per region, and `server create` → ACTIVE latency (p50/p99).

Starts the lab in this process (identity headers, no token checks: the figures measure RegionMesh),
creates a network in CentralRegion and an image in each region, then boots and deletes servers
through each region's compute API. Figures only. Usage: python bench/compute_bench.py [--servers N]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from regionmesh.lab.launcher import Lab, LabOptions

USER = {"X-Project-Id": "c" * 32, "X-Roles": "member,reader", "X-User-Id": "bench"}
ADMIN = {"X-Roles": "admin,member,reader", "X-User-Id": "bench-admin"}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def wait_status(client: httpx.Client, server_id: str, wanted: set[str], timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = client.get(f"/servers/{server_id}")
        if resp.status_code == 404:
            return "DELETED"
        status = str(resp.json()["server"]["status"])
        if status in wanted:
            return status
        time.sleep(0.005)  # polling the API (benchmark), bounded by the deadline
    raise SystemExit(f"server {server_id} did not reach {wanted}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=10,
                        help="servers per region (the default instance quota is 10)")
    args = parser.parse_args()
    opts = LabOptions(state_dir=Path(tempfile.mkdtemp(prefix="rm-compute-")), noauth=True, register_pods=True)
    opts.port_offset = opts.pick_free_offset()
    lab = Lab(opts, out=io.StringIO())
    lab.start()
    try:
        central = httpx.Client(base_url=opts.central_url + "/v2.0", headers=USER, timeout=60)
        central.put(f"/quotas/{USER['X-Project-Id']}", headers=ADMIN, json={"quota": {"port": -1}})
        net = central.post("/networks", json={"network": {"name": "bench"}}).json()["network"]
        central.post("/subnets", json={"subnet": {"network_id": net["id"], "cidr": "10.64.0.0/16",
                                                  "ip_version": 4}}).raise_for_status()
        for index, (region, _, _) in enumerate(opts.region_names()):
            images = httpx.Client(base_url=opts.url(opts.image_port(index)), headers=ADMIN, timeout=60)
            image = images.post("/v2/images", json={"name": "cirros", "disk_format": "raw",
                                                    "container_format": "bare", "visibility": "public"}).json()
            images.put(f"/v2/images/{image['id']}/file", content=b"\0" * 1024,
                       headers={"Content-Type": "application/octet-stream"}).raise_for_status()
            nova = httpx.Client(base_url=opts.url(opts.compute_port(index)) + "/v2.1", headers=USER, timeout=60)
            latencies: list[float] = []
            ids: list[str] = []
            t0 = time.perf_counter()
            for n in range(args.servers):
                start = time.perf_counter()
                resp = nova.post("/servers", json={"server": {"name": f"vm{n}", "flavorRef": "1",
                                                              "imageRef": image["id"],
                                                              "networks": [{"uuid": net["id"]}]}})
                if resp.status_code != 202:
                    raise SystemExit(f"boot refused: {resp.status_code} {resp.text[:300]}")
                server_id = resp.json()["server"]["id"]
                if wait_status(nova, server_id, {"ACTIVE", "ERROR"}) != "ACTIVE":
                    raise SystemExit(f"server {server_id} went to ERROR")
                latencies.append((time.perf_counter() - start) * 1000)
                ids.append(server_id)
            boots = args.servers / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            for server_id in ids:
                nova.delete(f"/servers/{server_id}").raise_for_status()
                wait_status(nova, server_id, {"DELETED"})
            deletes = args.servers / (time.perf_counter() - t0)
            print(f"{region}: {boots:6.1f} boots/s, {deletes:6.1f} deletes/s; create -> ACTIVE p50 "
                  f"{statistics.median(latencies):6.1f} ms, p99 {pct(latencies, 99):6.1f} ms "
                  f"({args.servers} servers, one at a time)", flush=True)
    finally:
        lab.stop()


if __name__ == "__main__":
    main()
