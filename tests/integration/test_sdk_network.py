"""openstacksdk against a real server, on SQLite and PostgreSQL (the foundation issue's clients)."""

from __future__ import annotations

import pytest
from openstack import exceptions as sdk_exc
from servers import PROJECT_A, PROJECT_B, RunningNeutron


def test_network_subnet_port_lifecycle(neutron: RunningNeutron) -> None:
    conn = neutron.sdk(PROJECT_A)
    net = conn.network.create_network(name="net1", description="first")
    assert net.name == "net1" and net.project_id == PROJECT_A and net.revision_number == 1
    sub = conn.network.create_subnet(network_id=net.id, cidr="10.0.1.0/24", ip_version=4, name="subnet1",
                                     dns_nameservers=["10.0.0.53"])
    assert sub.gateway_ip == "10.0.1.1"
    assert sub.allocation_pools == [{"start": "10.0.1.2", "end": "10.0.1.254"}]
    port = conn.network.create_port(network_id=net.id, name="p1")
    assert port.fixed_ips[0]["subnet_id"] == sub.id
    assert port.mac_address.startswith("fa:16:3e:") and port.status == "DOWN"
    assert len(port.security_group_ids) == 1
    conn.network.update_port(port, name="p1b")
    assert conn.network.get_port(port.id).name == "p1b"
    assert [n.id for n in conn.network.networks()] == [net.id]
    assert conn.network.find_network("net1").id == net.id
    with pytest.raises(sdk_exc.ConflictException):
        conn.network.delete_network(net)
    conn.network.delete_port(port)
    conn.network.delete_subnet(sub)
    conn.network.delete_network(net)
    assert list(conn.network.networks()) == []


def test_pagination_through_sdk(neutron: RunningNeutron) -> None:
    conn = neutron.sdk(PROJECT_A)
    made = {conn.network.create_network(name=f"n{i}").id for i in range(12)}
    got = [n.id for n in conn.network.networks(limit=5, sort_key="name")]
    assert set(got) == made and len(got) == 12


def test_security_groups_and_rules_through_sdk(neutron: RunningNeutron) -> None:
    conn = neutron.sdk(PROJECT_A)
    sg = conn.network.create_security_group(name="web")
    assert len(sg.security_group_rules) == 2
    rule = conn.network.create_security_group_rule(security_group_id=sg.id, direction="ingress", protocol="tcp",
                                                   port_range_min=443, port_range_max=443,
                                                   remote_ip_prefix="0.0.0.0/0")
    with pytest.raises(sdk_exc.ConflictException) as info:
        conn.network.create_security_group_rule(security_group_id=sg.id, direction="ingress", protocol="tcp",
                                                port_range_min=443, port_range_max=443,
                                                remote_ip_prefix="0.0.0.0/0")
    assert "already exists" in str(info.value)
    conn.network.delete_security_group_rule(rule)
    names = sorted(g.name for g in conn.network.security_groups())
    assert names == ["default", "web"]
    other = neutron.sdk(PROJECT_B)
    with pytest.raises(sdk_exc.NotFoundException):
        other.network.get_security_group(sg.id)


def test_tags_and_quotas_through_sdk(neutron: RunningNeutron) -> None:
    conn = neutron.sdk(PROJECT_A)
    admin = neutron.sdk()
    net = conn.network.create_network(name="tagged")
    conn.network.set_tags(net, ["a", "b"])
    assert sorted(conn.network.get_network(net.id).tags) == ["a", "b"]
    assert [n.id for n in conn.network.networks(tags="a")] == [net.id]
    admin.network.update_quota(PROJECT_A, networks=1)
    assert conn.network.get_quota(PROJECT_A).networks == 1
    with pytest.raises(sdk_exc.ConflictException):
        conn.network.create_network(name="over")
    admin.network.delete_quota(PROJECT_A)
    assert conn.network.get_quota(PROJECT_A).networks == 100


def test_if_match_revision_through_sdk(neutron: RunningNeutron) -> None:
    conn = neutron.sdk(PROJECT_A)
    net = conn.network.create_network(name="rev")
    conn.network.update_network(net, name="rev2")
    with pytest.raises(sdk_exc.HttpException) as info:
        conn.network.update_network(net, name="rev3", if_revision=1)
    assert info.value.status_code == 412
    assert conn.network.get_network(net.id).name == "rev2"


def test_routers_and_floating_ips_through_sdk(neutron: RunningNeutron) -> None:
    admin = neutron.sdk()
    ext = admin.network.create_network(name="ext-net", is_router_external=True)
    admin.network.create_subnet(network_id=ext.id, cidr="163.3.124.0/24", ip_version=4, is_dhcp_enabled=False)
    conn = neutron.sdk(PROJECT_A)
    net = conn.network.create_network(name="net1")
    sub = conn.network.create_subnet(network_id=net.id, cidr="10.0.1.0/24", ip_version=4)
    port = conn.network.create_port(network_id=net.id)
    router = conn.network.create_router(name="r1", external_gateway_info={"network_id": ext.id})
    assert router.external_gateway_info["network_id"] == ext.id
    fip = conn.network.create_ip(floating_network_id=ext.id)
    assert fip.status == "DOWN"
    with pytest.raises(sdk_exc.NotFoundException):
        conn.network.update_ip(fip, port_id=port.id)  # the subnet is not on the router yet
    conn.network.add_interface_to_router(router, subnet=sub.id)
    with pytest.raises(sdk_exc.BadRequestException):
        conn.network.add_interface_to_router(router, subnet=sub.id)
    fip = conn.network.update_ip(fip, port_id=port.id)
    assert fip.router_id == router.id and fip.fixed_ip_address == port.fixed_ips[0]["ip_address"]
    conn.network.update_router(router, routes=[{"destination": "10.9.0.0/16", "nexthop": "10.0.1.20"}])
    assert conn.network.get_router(router.id).routes == [{"destination": "10.9.0.0/16", "nexthop": "10.0.1.20"}]
    with pytest.raises(sdk_exc.ConflictException):
        conn.network.delete_router(router)
    conn.network.update_ip(fip, port_id=None)
    conn.network.delete_ip(fip)
    conn.network.update_router(router, routes=[])
    conn.network.remove_interface_from_router(router, subnet=sub.id)
    conn.network.delete_router(router)
    assert list(conn.network.routers()) == []


def test_provider_segments_conflict_through_sdk(neutron: RunningNeutron) -> None:
    admin = neutron.sdk()
    net = admin.network.create_network(name="v", provider_network_type="vxlan", provider_segmentation_id=4242)
    assert net.provider_segmentation_id == 4242
    with pytest.raises(sdk_exc.ConflictException) as info:
        admin.network.create_network(name="w", provider_network_type="vxlan", provider_segmentation_id=4242)
    assert "4242" in str(info.value)
    assert [n.name for n in admin.network.networks()] == ["v"]
