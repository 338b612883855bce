"""Nova v2.1 JSON views of compute rows (microversion-aware where the shape changed)."""

from __future__ import annotations

import json
from typing import Any

from regionmesh.compute import store as s
from regionmesh.context import RequestContext
from regionmesh.db.clock import format_time

_STATUS = {s.BUILDING: "BUILD", s.ACTIVE: "ACTIVE", s.STOPPED: "SHUTOFF", s.ERROR: "ERROR",
           s.DELETED: "DELETED", s.SOFT_DELETED: "SOFT_DELETED", s.SHELVED: "SHELVED",
           s.SHELVED_OFFLOADED: "SHELVED_OFFLOADED", s.RESIZED: "VERIFY_RESIZE"}
_RESIZING = {s.RESIZE_PREP: "RESIZE", s.RESIZE_MIGRATING: "RESIZE", s.RESIZE_FINISH: "RESIZE"}
# Nova's _STATE_MAP: a task overrides the vm_state's status only where Nova's table says so.
_TASK_STATUS = {s.ACTIVE: {"rebooting": "REBOOT", "rebooting_hard": "HARD_REBOOT", **_RESIZING},
                s.STOPPED: _RESIZING, s.RESIZED: {s.RESIZE_REVERTING: "REVERT_RESIZE"}}


def status(instance: dict[str, Any]) -> str:
    by_task = _TASK_STATUS.get(instance["vm_state"], {})
    if instance["task_state"] in by_task:
        return by_task[instance["task_state"]]
    return _STATUS.get(instance["vm_state"], "UNKNOWN")


def addresses(ports: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for port in ports:
        entries = out.setdefault(port["network_name"] or port["network_id"], [])
        for ip in port["fixed_ips"]:
            addr = ip["ip_address"]
            entries.append({"addr": addr, "version": 6 if ":" in addr else 4, "OS-EXT-IPS:type": "fixed",
                            "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]})
    return out


def flavor_view(flavor: dict[str, Any], base: str) -> dict[str, Any]:
    return {"id": flavor["id"], "name": flavor["name"], "vcpus": flavor["vcpus"], "ram": flavor["memory_mb"],
            "disk": flavor["root_gb"], "OS-FLV-EXT-DATA:ephemeral": flavor["ephemeral_gb"], "swap": 0,
            "rxtx_factor": 1.0, "os-flavor-access:is_public": flavor["is_public"], "OS-FLV-DISABLED:disabled": False,
            "description": None, "extra_specs": {},
            "links": [{"rel": "self", "href": f"{base}/flavors/{flavor['id']}"},
                      {"rel": "bookmark", "href": f"{base}/flavors/{flavor['id']}"}]}


def server_view(ctx: RequestContext, instance: dict[str, Any], ports: list[dict[str, Any]],
                flavor: dict[str, Any] | None, base: str, version: tuple[int, int]) -> dict[str, Any]:
    uuid = instance["uuid"]
    link = [{"rel": "self", "href": f"{base}/servers/{uuid}"}, {"rel": "bookmark", "href": f"{base}/servers/{uuid}"}]
    if version >= (2, 47):
        fv: dict[str, Any] = {"original_name": flavor["name"] if flavor else instance["flavor_id"],
                              "vcpus": instance["vcpus"], "ram": instance["memory_mb"], "disk": instance["root_gb"],
                              "ephemeral": 0, "swap": 0, "extra_specs": {}}
    else:
        fv = {"id": instance["flavor_id"], "links": [{"rel": "bookmark",
                                                      "href": f"{base}/flavors/{instance['flavor_id']}"}]}
    request = json.loads(instance["request"] or "{}")
    view: dict[str, Any] = {
        "id": uuid, "name": instance["name"], "status": status(instance), "tenant_id": instance["project_id"],
        "user_id": instance["user_id"], "metadata": {}, "hostId": "", "created": format_time(instance["created_at"]),
        "updated": format_time(instance["updated_at"]), "links": link, "flavor": fv, "addresses": addresses(ports),
        "image": {"id": instance["image_id"], "links": []} if instance["image_id"] else "",
        "accessIPv4": "", "accessIPv6": "", "OS-DCF:diskConfig": "MANUAL", "progress": instance["progress"],
        "OS-EXT-AZ:availability_zone": instance["availability_zone"] or "", "config_drive": "",
        "key_name": instance["key_name"], "OS-SRV-USG:launched_at": None,
        "OS-SRV-USG:terminated_at": format_time(instance["terminated_at"]),
        "OS-EXT-STS:task_state": instance["task_state"], "OS-EXT-STS:vm_state": instance["vm_state"],
        "OS-EXT-STS:power_state": instance["power_state"], "os-extended-volumes:volumes_attached": [],
        "security_groups": [{"name": g} for g in request.get("security_groups") or ["default"]],
        "locked": False, "tags": [], "description": None,
    }
    if instance["host"]:
        view["hostId"] = instance["host"]
    if instance["fault"]:
        view["fault"] = json.loads(instance["fault"])
    if ctx.is_admin:
        view.update({"OS-EXT-SRV-ATTR:host": instance["host"], "OS-EXT-SRV-ATTR:hypervisor_hostname": instance["host"],
                     "OS-EXT-SRV-ATTR:instance_name": f"instance-{uuid[:8]}"})
    return view


def service_view(service: dict[str, Any], up: bool) -> dict[str, Any]:
    return {"id": service["id"], "binary": service["binary"], "host": service["host"], "zone": service["zone"],
            "status": "disabled" if service["disabled"] else "enabled", "state": "up" if up else "down",
            "updated_at": format_time(service["last_seen_up"]), "disabled_reason": service["disabled_reason"],
            "forced_down": service["forced_down"]}


def interface_view(port: dict[str, Any]) -> dict[str, Any]:
    return {"port_id": port["port_id"], "net_id": port["network_id"], "mac_addr": port["mac_address"],
            "port_state": "ACTIVE", "fixed_ips": [{"subnet_id": ip.get("subnet_id"), "ip_address": ip["ip_address"]}
                                                  for ip in port["fixed_ips"]]}
