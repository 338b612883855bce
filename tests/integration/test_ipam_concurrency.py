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
