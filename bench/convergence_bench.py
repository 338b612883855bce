"""Multi-region convergence: how fast a change in central becomes real in the regions.

Starts the lab in this process (central, Admin API, N lab regions, job workers) and prints:
* binding → converged: from a VM port's binding in a region to its routings and its security-group
  copy admitting the VM's address in that region (p50/p99 ms);
* jobs completed per second, with 2 regions and with 10 regions (one seg_rule_setup per project).
Figures only; nothing is asserted. Usage: python bench/convergence_bench.py [--boots N] [--projects N]
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


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.002)  # polling observable state (benchmark), bounded by the deadline
    raise SystemExit("timed out waiting for convergence")


def start_lab(regions: int) -> Lab:
    opts = LabOptions(state_dir=Path(tempfile.mkdtemp(prefix="rm-conv-")), regions=regions, register_pods=True,
                      noauth=True)  # identity headers: the figures measure RegionMesh, not token checks
    opts.port_offset = opts.pick_free_offset()
    lab = Lab(opts, out=io.StringIO())
    lab.start()
    return lab


def boot(lab: Lab, region_index: int, project: str, network_id: str) -> tuple[dict, float]:  # type: ignore[type-arg]
    opts = lab.opts
    nova = {"X-Project-Id": project, "X-Roles": "admin,member,reader,service", "X-User-Id": "nova"}
    with httpx.Client(base_url=opts.url(opts.region_base_port + region_index) + "/v2.0", headers=nova,
                      timeout=30) as region:
        region.get(f"/networks/{network_id}").raise_for_status()
        port = region.post("/ports", json={"port": {"network_id": network_id}}).json()["port"]
        t0 = time.perf_counter()
        region.put(f"/ports/{port['id']}", json={"port": {"binding:host_id": f"h{region_index}",
                                                          "device_owner": "compute:nova",
                                                          "device_id": port["id"]}}).raise_for_status()
    return port, t0


def binding_latency(boots: int) -> list[float]:
    lab = start_lab(2)
    try:
        opts = lab.opts
        project = "p" * 32
        user = {"X-Project-Id": project, "X-Roles": "member,reader"}
        with httpx.Client(base_url=opts.central_url + "/v2.0", headers=user, timeout=30) as central:
            net = central.post("/networks", json={"network": {"name": "n"}}).json()["network"]
            central.post("/subnets", json={"subnet": {"network_id": net["id"], "cidr": "10.0.0.0/16",
                                                      "ip_version": 4}}).raise_for_status()
        latencies = []
        for i in range(boots):
            region_index = i % 2
            port, t0 = boot(lab, region_index, project, net["id"])
            ip = port["fixed_ips"][0]["ip_address"]
            sg = port["security_groups"][0]
            url = opts.url(opts.region_base_port + region_index) + f"/v2.0/security-groups/{sg}"

            def converged(url: str = url, ip: str = ip) -> bool:
                rules = httpx.get(url, headers=user).json()["security_group"]["security_group_rules"]
                return f"{ip}/32" in {r["remote_ip_prefix"] for r in rules}

            wait_for(converged)
            latencies.append((time.perf_counter() - t0) * 1000)
        return latencies
    finally:
        lab.stop()


def router_latency(rounds: int) -> list[float]:
    """From `router add subnet` (second region's subnet) to bottom routers with their interfaces in both regions."""
    lab = start_lab(2)
    try:
        opts = lab.opts
        latencies = []
        for n in range(rounds):
            project = f"{n + 1000:032x}"
            user = {"X-Project-Id": project, "X-Roles": "member,reader"}
            central = httpx.Client(base_url=opts.central_url + "/v2.0", headers=user, timeout=30)
            subnets = []
            for i, region in enumerate((0, 1)):
                net = central.post("/networks", json={"network": {"name": f"n{i}"}}).json()["network"]
                subnets.append(central.post("/subnets", json={"subnet": {
                    "network_id": net["id"], "cidr": f"10.{i}.0.0/24", "ip_version": 4}}).json()["subnet"])
                boot(lab, region, project, net["id"])
            router = central.post("/routers", json={"router": {"name": "r"}}).json()["router"]
            t0 = time.perf_counter()
            for sub in subnets:
                central.put(f"/routers/{router['id']}/add_router_interface", json={"subnet_id": sub["id"]})
            regions = [httpx.Client(base_url=opts.url(opts.region_base_port + i) + "/v2.0", timeout=30)
                       for i in (0, 1)]

            def ready(regions: list[httpx.Client] = regions, router_id: str = router["id"]) -> bool:
                for client in regions:
                    bottoms = client.get("/routers", params={"name": router_id}).json()["routers"]
                    if not bottoms or not client.get("/ports", params={
                            "device_id": bottoms[0]["id"], "device_owner": "network:router_interface"}).json()["ports"]:
                        return False
                return True

            wait_for(ready)
            latencies.append((time.perf_counter() - t0) * 1000)
        return latencies
    finally:
        lab.stop()


def jobs_per_second(regions: int, projects: int) -> float:
    lab = start_lab(regions)
    try:
        opts = lab.opts
        admin = httpx.Client(base_url=opts.url(opts.admin_port), timeout=30)
        assert lab.workers is not None
        lab.workers.stop()  # queue the work first, then time the workers alone
        for n in range(projects):
            project = f"{n:032x}"
            user = {"X-Project-Id": project, "X-Roles": "member,reader"}
            with httpx.Client(base_url=opts.central_url + "/v2.0", headers=user, timeout=30) as central:
                net = central.post("/networks", json={"network": {"name": "n"}}).json()["network"]
                central.post("/subnets", json={"subnet": {"network_id": net["id"], "cidr": "10.1.0.0/24",
                                                          "ip_version": 4}}).raise_for_status()
            boot(lab, n % regions, project, net["id"])
        t0 = time.perf_counter()
        lab.start_workers()

        def all_done() -> bool:
            jobs = admin.get("/v1.0/jobs", params={"limit": 10000}).json()["jobs"]
            return len(jobs) >= projects and all(j["status"] == "SUCCESS" for j in jobs)

        wait_for(all_done, timeout=300)
        return projects / (time.perf_counter() - t0)
    finally:
        lab.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--boots", type=int, default=40)
    parser.add_argument("--projects", type=int, default=40)
    args = parser.parse_args()
    lat = binding_latency(args.boots)
    print(f"binding -> routings and security-group rules in place: p50 {statistics.median(lat):7.1f} ms, "
          f"p99 {pct(lat, 99):7.1f} ms ({len(lat)} boots, 2 regions)", flush=True)
    rl = router_latency(max(3, args.boots // 4))
    print(f"router add subnet -> bottom routers with interfaces in both regions: p50 {statistics.median(rl):7.1f} ms, "
          f"p99 {pct(rl, 99):7.1f} ms ({len(rl)} routers)", flush=True)
    for regions in (2, 10):
        rate = jobs_per_second(regions, args.projects)
        print(f"jobs completed per second, {regions:2d} regions: {rate:7.1f} jobs/s "
              f"(seg_rule_setup, one per project, {args.projects} projects)", flush=True)


if __name__ == "__main__":
    main()
