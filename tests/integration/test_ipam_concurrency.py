"""Race-free IP allocation: concurrent creates never share an address (PostgreSQL and SQLite)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from servers import PROJECT_A, RunningNeutron


def test_concurrent_port_creates_get_distinct_addresses(neutron: RunningNeutron) -> None:
    headers = {"X-Project-Id": PROJECT_A, "X-Roles": "member,reader"}
    with httpx.Client(base_url=neutron.url + "/v2.0", headers=headers, timeout=60) as client:
        net = client.post("/networks", json={"network": {"name": "race"}}).json()["network"]
        client.post("/subnets", json={"subnet": {"network_id": net["id"], "cidr": "10.20.0.0/26",
                                                  "ip_version": 4}}).raise_for_status()

        def create(i: int) -> httpx.Response:
            with httpx.Client(base_url=neutron.url + "/v2.0", headers=headers, timeout=60) as c:
                return c.post("/ports", json={"port": {"network_id": net["id"], "name": f"p{i}"}})

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(create, range(40)))
        assert [r.status_code for r in results] == [201] * 40, [r.text for r in results if r.status_code != 201]
        addresses = [r.json()["port"]["fixed_ips"][0]["ip_address"] for r in results]
        assert len(set(addresses)) == 40
        listed = client.get("/ports").json()["ports"]
        assert len(listed) == 40


def test_concurrent_explicit_address_has_one_winner(neutron: RunningNeutron) -> None:
    headers = {"X-Project-Id": PROJECT_A, "X-Roles": "member,reader"}
    with httpx.Client(base_url=neutron.url + "/v2.0", headers=headers, timeout=60) as client:
        net = client.post("/networks", json={"network": {"name": "race"}}).json()["network"]
        client.post("/subnets", json={"subnet": {"network_id": net["id"], "cidr": "10.21.0.0/24",
                                                  "ip_version": 4}}).raise_for_status()

        def create(i: int) -> httpx.Response:
            with httpx.Client(base_url=neutron.url + "/v2.0", headers=headers, timeout=60) as c:
                return c.post("/ports", json={"port": {"network_id": net["id"],
                                                       "fixed_ips": [{"ip_address": "10.21.0.9"}]}})

        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(create, range(6)))
        codes = sorted(r.status_code for r in results)
        assert codes == [201] + [409] * 5
        assert {r.json()["NeutronError"]["type"] for r in results if r.status_code == 409} == \
            {"IpAddressAlreadyAllocated"}
        assert len(client.get("/ports").json()["ports"]) == 1


def test_concurrent_subnets_from_one_pool_never_overlap(neutron: RunningNeutron) -> None:
    """Subnet pools: 20 concurrent allocations of a /24 from a /20 (16 blocks) → 16 distinct blocks and
    4 SubnetAllocationError (409); nothing half-made."""
    headers = {"X-Project-Id": PROJECT_A, "X-Roles": "member,reader"}
    with httpx.Client(base_url=neutron.url + "/v2.0", headers=headers, timeout=60) as client:
        pool_id = client.post("/subnetpools", json={"subnetpool": {
            "name": "race", "prefixes": ["10.40.0.0/20"], "default_prefixlen": 24}}).json()["subnetpool"]["id"]
        nets = [client.post("/networks", json={"network": {"name": f"n{i}"}}).json()["network"]["id"]
                for i in range(20)]

        def create(net_id: str) -> httpx.Response:
            with httpx.Client(base_url=neutron.url + "/v2.0", headers=headers, timeout=60) as c:
                return c.post("/subnets", json={"subnet": {"network_id": net_id, "ip_version": 4,
                                                           "subnetpool_id": pool_id}})

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(create, nets))
        made = [r.json()["subnet"]["cidr"] for r in results if r.status_code == 201]
        refused = [r for r in results if r.status_code != 201]
        assert len(made) == 16 and len(set(made)) == 16, [r.text for r in refused]
        assert {(r.status_code, r.json()["NeutronError"]["type"]) for r in refused} == {(409, "SubnetAllocationError")}
        assert sorted(s["cidr"] for s in client.get("/subnets").json()["subnets"]) == sorted(made)
