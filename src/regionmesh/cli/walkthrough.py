"""``regionmesh walkthrough``: seed 001's Tricircle walkthrough, step by step, against a running lab.

Each step says what it does and why, runs it through the public APIs (the Admin API, central's and
the regions' Neutron APIs, with real tokens), shows the resulting state, and stops at the first
problem with what to look at. VMs boot through each region's compute API when the catalog has one
(else the boot is emulated exactly as Nova calls its region's Neutron: GET the network, POST the
port, PUT the binding).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from regionmesh.cli.operator import AdminSession, OperatorError


class StepFailed(RuntimeError):
    pass


class Walkthrough:
    def __init__(self, admin: AdminSession, demo: AdminSession, out: Any = sys.stdout) -> None:
        self.admin = admin
        self.out = out
        project = demo.token_body["project"]["id"]
        self.project = project
        headers = {"X-Auth-Token": demo.token}
        self.central = httpx.Client(base_url=demo.endpoint("network", "CentralRegion") + "/v2.0", headers=headers,
                                    timeout=30)
        self.region = {r: httpx.Client(base_url=demo.endpoint("network", r) + "/v2.0", timeout=30,
                                       headers={"X-Auth-Token": admin.token}) for r in ("RegionOne", "RegionTwo")}
        self.admin_central = httpx.Client(base_url=admin.endpoint("network", "CentralRegion") + "/v2.0",
                                          headers={"X-Auth-Token": admin.token}, timeout=30)
        self.compute: dict[str, httpx.Client] = {}
        self.images: dict[str, httpx.Client] = {}
        for region in ("RegionOne", "RegionTwo"):
            try:
                self.compute[region] = httpx.Client(base_url=demo.endpoint("compute", region),
                                                    headers={"X-Auth-Token": demo.token}, timeout=30)
                self.images[region] = httpx.Client(base_url=admin.endpoint("image", region),
                                                   headers={"X-Auth-Token": admin.token}, timeout=30)
            except OperatorError:
                pass
        self.state: dict[str, Any] = {}
        self.step_no = 0

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def step(self, title: str, why: str, action: Callable[[], str]) -> None:
        self.step_no += 1
        self.say(f"\n[{self.step_no}] {title}\n    why: {why}")
        try:
            self.say("    → " + action())
        except (httpx.HTTPError, OperatorError, KeyError) as err:
            raise StepFailed(f"step {self.step_no} ({title}) failed: {err}") from err

    def ok(self, resp: httpx.Response, what: str) -> Any:
        if resp.status_code >= 400:
            raise StepFailed(f"{what}: HTTP {resp.status_code}: {resp.text[:300]}")
        return resp.json() if resp.content else None

    # ---- the steps ----------------------------------------------------------------------------
    def register_pods(self) -> str:
        have = {p["region_name"] for p in self.admin.call("GET", "/pods")["pods"]}
        for body in ({"region_name": "CentralRegion"}, {"region_name": "RegionOne", "az_name": "az1"},
                     {"region_name": "RegionTwo", "az_name": "az2"}):
            if body["region_name"] not in have:
                self.admin.call("POST", "/pods", json={"pod": body})
        pods = self.admin.call("GET", "/pods")["pods"]
        return ", ".join(f"{p['region_name']}({p['az_name'] or 'top'})" for p in pods)

    def network(self, key: str, name: str, cidr: str, az: str) -> str:
        net = self.ok(self.central.post("/networks", json={"network": {
            "name": name, "availability_zone_hints": [az]}}), f"create {name}")["network"]
        sub = self.ok(self.central.post("/subnets", json={"subnet": {
            "network_id": net["id"], "cidr": cidr, "ip_version": 4, "name": f"{name}-subnet"}}),
            f"create the subnet of {name}")["subnet"]
        self.state[key] = (net, sub)
        return f"{name} {net['id']} ({cidr}) exists in CentralRegion only"

    def boot(self, key: str, region: str, net_key: str) -> str:
        if region in self.compute:
            return self.boot_server(key, region, net_key)
        net, _ = self.state[net_key]
        client = self.region[region]
        self.ok(client.get(f"/networks/{net['id']}"), f"{region} GET network")
        port = self.ok(client.post("/ports", json={"port": {"network_id": net["id"], "project_id": self.project}}),
                       f"{region} POST port")["port"]
        self.ok(client.put(f"/ports/{port['id']}", json={"port": {
            "binding:host_id": f"{region.lower()}-host1", "device_owner": f"compute:{region}",
            "device_id": f"{key}-{port['id'][:8]}"}}), f"{region} PUT binding")
        self.state[key] = port
        routed = self.admin.call("GET", "/routings")["routings"]
        mine = sorted({r["resource_type"] for r in routed if r["top_id"] in (port["id"], net["id"])})
        return (f"{key} port {port['id']} ip {port['fixed_ips'][0]['ip_address']} in {region}; "
                f"routings: {', '.join(mine)}")

    def boot_server(self, key: str, region: str, net_key: str) -> str:
        """A real boot: `server create --flavor 1 --image cirros --nic net-id=…` on the region's compute."""
        net, _ = self.state[net_key]
        images = self.images[region]
        found = self.ok(images.get("/v2/images", params={"name": "cirros"}), "image list")["images"]
        if not found:
            image = self.ok(images.post("/v2/images", json={"name": "cirros", "disk_format": "raw",
                                                            "container_format": "bare", "visibility": "public"}),
                            "image create")
            self.ok(images.put(f"/v2/images/{image['id']}/file", content=b"\0" * 4096,
                               headers={"Content-Type": "application/octet-stream"}), "image upload")
            image_id = image["id"]
        else:
            image_id = found[0]["id"]
        compute = self.compute[region]
        server = self.ok(compute.post("/servers", json={"server": {
            "name": key, "flavorRef": "1", "imageRef": image_id, "networks": [{"uuid": net["id"]}]}}),
            f"{region} server create")["server"]
        deadline = time.monotonic() + 60
        while True:
            shown = self.ok(compute.get(f"/servers/{server['id']}"), "server show")["server"]
            if shown["status"] in ("ACTIVE", "ERROR") or time.monotonic() > deadline:
                break
            time.sleep(0.2)  # waiting for the boot, bounded
        if shown["status"] != "ACTIVE":
            raise StepFailed(f"{key} is {shown['status']}: {shown.get('fault', {}).get('message', 'no fault')}")
        ports = self.ok(self.admin_central.get("/ports", params={"device_id": server["id"]}), "port list")["ports"]
        self.state[key] = ports[0]
        routed = self.admin.call("GET", "/routings")["routings"]
        mine = sorted({r["resource_type"] for r in routed if r["top_id"] in (ports[0]["id"], net["id"])})
        return (f"{key} ACTIVE in {region} on {ports[0]['binding:host_id']}, ip "
                f"{ports[0]['fixed_ips'][0]['ip_address']} allocated by central; routings: {', '.join(mine)}")

    def ext_net(self) -> str:
        ext = self.ok(self.admin_central.post("/networks", json={"network": {
            "name": "ext-net", "router:external": True, "availability_zone_hints": ["RegionTwo"],
            "provider:network_type": "flat", "provider:physical_network": "extern"}}), "create ext-net")["network"]
        self.ok(self.admin_central.post("/subnets", json={"subnet": {
            "network_id": ext["id"], "cidr": "163.3.124.0/24", "ip_version": 4, "enable_dhcp": False,
            "name": "ext-subnet"}}), "create ext-subnet")
        self.state["ext"] = ext
        bottom = [r for r in self.admin.call("GET", "/routings")["routings"] if r["top_id"] == ext["id"]]
        return f"ext-net {ext['id']} created in RegionTwo at once (bottom id {bottom[0]['bottom_id']})"

    def router(self) -> str:
        router = self.ok(self.central.post("/routers", json={"router": {"name": "router"}}), "create router")["router"]
        for key in ("net1", "net2"):
            self.ok(self.central.put(f"/routers/{router['id']}/add_router_interface",
                                     json={"subnet_id": self.state[key][1]["id"]}), f"router add {key}")
        self.state["router"] = router
        return self.converge("bottom routers and the bridge network")

    def gateway(self) -> str:
        router = self.state["router"]
        self.ok(self.central.put(f"/routers/{router['id']}", json={"router": {
            "external_gateway_info": {"network_id": self.state["ext"]["id"]}}}), "router gateway set")
        return self.converge("the north-south router in RegionTwo and the routes")

    def floating_ip(self) -> str:
        fip = self.ok(self.central.post("/floatingips", json={"floatingip": {
            "floating_network_id": self.state["ext"]["id"]}}), "floating IP create")["floatingip"]
        status = fip["status"]
        self.ok(self.central.put(f"/floatingips/{fip['id']}", json={"floatingip": {
            "port_id": self.state["vm1"]["id"]}}), "floating IP associate")
        self.converge("the floating IP in RegionTwo through a shadow port")
        after = self.ok(self.central.get(f"/floatingips/{fip['id']}"), "floating IP show")["floatingip"]
        return f"{after['floating_ip_address']}: {status} at creation, {after['status']} once associated"

    def converge(self, what: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            jobs = self.admin.call("GET", "/jobs")["jobs"]
            failed = [j for j in jobs if j["status"] == "FAIL"]
            if failed:
                raise StepFailed(f"job {failed[0]['type']} failed: {failed[0]['last_error']} "
                                 f"(`regionmesh jobs show {failed[0]['id']}`)")
            if jobs and all(j["status"] == "SUCCESS" for j in jobs):
                return f"{what}: {len(jobs)} jobs SUCCESS"
            time.sleep(0.2)  # waiting for the lab's workers, bounded by the timeout
        raise StepFailed(f"jobs did not converge within {timeout:.0f} s: `regionmesh jobs list`")

    def run(self) -> int:
        try:
            self.step("Register the pods (seed steps 1–3)", "each region is a pod; CentralRegion is the top pod",
                      self.register_pods)
            self.step("Create net1/subnet1 in CentralRegion, hinted to az1 (steps 4–5)",
                      "users talk only to central; nothing exists in the regions yet",
                      lambda: self.network("net1", "net1", "10.0.1.0/24", "az1"))
            self.step("Boot vm1 in RegionOne (steps 6–7)",
                      "RegionOne's Neutron creates net1 with the same UUID on first sight, creates the port in "
                      "central first, and forwards the binding; central records the routings",
                      lambda: self.boot("vm1", "RegionOne", "net1"))
            self.step("Create net2/subnet2 in CentralRegion, hinted to az2", "the second region's network",
                      lambda: self.network("net2", "net2", "10.0.2.0/24", "az2"))
            self.step("Boot vm2 in RegionTwo (steps 8–9)", "the same, in the other region",
                      lambda: self.boot("vm2", "RegionTwo", "net2"))
            self.step("Create ext-net with hint RegionTwo (step 10)",
                      "an external network lives in exactly one region and is created there at once", self.ext_net)
            self.step("Create a router and add both subnets (step 11)",
                      "router_setup jobs create a bottom router per region joined by a bridge network",
                      self.router)
            self.step("Set the router gateway to ext-net (steps 12–13)",
                      "the north-south router sits in ext-net's region; configure_route installs routes",
                      self.gateway)
            self.step("Create and associate a floating IP (steps 14–15)",
                      "DOWN until associated; then a bottom floating IP in RegionTwo, through a shadow port for "
                      "vm1 of RegionOne", self.floating_ip)
        except StepFailed as err:
            self.say(f"\n✗ {err}")
            return 1
        self.say("\n✓ the seed 001 walkthrough holds end to end")
        return 0


def main(args: Any) -> int:
    try:
        admin = AdminSession("regionmesh-admin", Path(args.state_dir))
        demo = AdminSession("regionmesh-demo", Path(args.state_dir))
    except OperatorError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return Walkthrough(admin, demo).run()
