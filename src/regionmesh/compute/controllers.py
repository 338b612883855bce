"""Nova v2.1 resource controllers: request parts in, (status, JSON body) out.

Kept beside the domain (not in ``api``) so the ASGI edge stays a thin router; these only
validate request shapes, call :class:`~regionmesh.compute.service.ComputeAPI`, and render views.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from regionmesh.compute import block_device as bd
from regionmesh.compute import quota
from regionmesh.compute import store as s
from regionmesh.compute import views as v
from regionmesh.compute.cloud import LabCompute
from regionmesh.compute.exceptions import BadRequest, ComputeError, Conflict, Forbidden, NotFound
from regionmesh.context import RequestContext

Result = tuple[int, Any]


@dataclass
class Call:
    ctx: RequestContext
    method: str
    parts: list[str]
    body: Any
    base: str
    version: tuple[int, int]
    query: list[tuple[str, str]]

    def param(self, name: str) -> str | None:
        return next((value for key, value in self.query if key == name), None)


class _MethodNotAllowed(ComputeError):
    code = 405
    key = "computeFault"


def _require_admin(ctx: RequestContext) -> None:
    if not ctx.is_admin:
        raise Forbidden("Policy doesn't allow this operation to be performed.")


def _member(body: Any, key: str) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise BadRequest(f"Invalid input for field/attribute {key}.")
    return body[key]


# ---- servers ---------------------------------------------------------------------------------------
def _server(c: LabCompute, call: Call, instance: dict[str, Any]) -> dict[str, Any]:
    with c.rt.db.read() as conn:
        try:
            flavor = s.get_flavor(conn, instance["flavor_id"])
        except NotFound:
            flavor = None
        volumes = [b["volume_id"] for b in bd.bdms(conn, instance["uuid"]) if b["volume_id"]]
    view = v.server_view(call.ctx, instance, c.api.ports(instance["uuid"]), flavor, call.base, call.version)
    view["os-extended-volumes:volumes_attached"] = [{"id": vid, "delete_on_termination": False} for vid in volumes]
    return view


def _parse_networks(raw: Any, version: tuple[int, int]) -> Any:
    if raw is None:
        if version >= (2, 37):
            raise BadRequest("Invalid input for field/attribute server. Value: 'networks' is a required property")
        return "auto"
    if raw in ("auto", "none"):
        return raw
    if not isinstance(raw, list):
        raise BadRequest("Invalid input for field/attribute networks.")
    nics = []
    for nic in raw:
        if not isinstance(nic, dict) or not (nic.get("uuid") or nic.get("port")):
            raise BadRequest("Invalid input for field/attribute networks: each needs 'uuid' or 'port'.")
        nics.append({"port": nic["port"]} if nic.get("port") else {"uuid": nic["uuid"]})
    return nics


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


def servers(c: LabCompute, call: Call) -> Result:
    api, ctx, parts, method = c.api, call.ctx, call.parts, call.method
    if not parts or parts == ["detail"]:
        if method == "POST" and not parts:
            return _create_server(c, call)
        if method != "GET":
            raise _MethodNotAllowed("Method not allowed")
        items = api.list_instances(ctx, all_projects=(call.param("all_tenants") or call.param("all_projects"))
                                   not in (None, "0", "false", "False"))
        name, status = call.param("name"), call.param("status")
        if not _truthy(call.param("deleted")) and (status or "").upper() != "SOFT_DELETED":
            items = [i for i in items if i["vm_state"] != s.SOFT_DELETED]  # as Nova's DB filter hides them
        if name:
            items = [i for i in items if re.search(name, i["name"])]
        if status:
            items = [i for i in items if v.status(i) == status.upper()]
        if parts:
            return 200, {"servers": [_server(c, call, i) for i in items]}
        return 200, {"servers": [{"id": i["uuid"], "name": i["name"],
                                  "links": [{"rel": "self", "href": f"{call.base}/servers/{i['uuid']}"}]}
                                 for i in items]}
    uuid = parts[0]
    if len(parts) == 1:
        if method == "GET":
            return 200, {"server": _server(c, call, api.get(ctx, uuid))}
        if method == "DELETE":
            api.delete(ctx, uuid)
            return 204, None
        if method == "PUT":
            changes = _member(call.body, "server")
            api.get(ctx, uuid)
            if "name" in changes:
                c.rt.db.transaction(lambda conn: s.update_instance(conn, uuid, c.rt.clock.now(),
                                                                   name=str(changes["name"])))
            return 200, {"server": _server(c, call, api.get(ctx, uuid))}
        raise _MethodNotAllowed("Method not allowed")
    if parts[1] == "action" and method == "POST":
        return _action(c, call, uuid)
    if parts[1] == "os-interface":
        return _interfaces(c, call, uuid)
    if parts[1] == "os-volume_attachments":
        return _volume_attachments(c, call, uuid)
    raise NotFound("The resource could not be found.")


def _create_server(c: LabCompute, call: Call) -> Result:
    body = _member(call.body, "server")
    name, flavor = body.get("name"), body.get("flavorRef")
    if not name or not isinstance(name, str):
        raise BadRequest("Invalid input for field/attribute name.")
    if not flavor:
        raise BadRequest("Invalid input for field/attribute flavorRef.")
    groups = [g.get("name") for g in body.get("security_groups") or [] if isinstance(g, dict)]
    flavor_ref = str(flavor).rstrip("/").rsplit("/", 1)[-1]
    image = body.get("imageRef")
    image_ref = str(image).rstrip("/").rsplit("/", 1)[-1] if image else None
    instance, password = c.api.boot(call.ctx, name, flavor_ref, image_ref,
                                    _parse_networks(body.get("networks"), call.version),
                                    [g for g in groups if g] or ["default"], body.get("availability_zone"),
                                    body.get("key_name"), bd.parse_bdm_v2(body.get("block_device_mapping_v2")))
    uuid = instance["uuid"]
    return 202, {"server": {"id": uuid, "adminPass": password, "OS-DCF:diskConfig": "MANUAL",
                            "security_groups": [{"name": g} for g in groups or ["default"]],
                            "links": [{"rel": "self", "href": f"{call.base}/servers/{uuid}"},
                                      {"rel": "bookmark", "href": f"{call.base}/servers/{uuid}"}]}}


def _action(c: LabCompute, call: Call, uuid: str) -> Result:
    body = call.body if isinstance(call.body, dict) else {}
    if "os-stop" in body:
        c.api.power_action(call.ctx, uuid, "stop")
    elif "os-start" in body:
        c.api.power_action(call.ctx, uuid, "start")
    elif "reboot" in body:
        kind = str((body["reboot"] or {}).get("type", "SOFT")).upper()
        if kind not in ("SOFT", "HARD"):
            raise BadRequest("Invalid input for field/attribute type.")
        c.api.power_action(call.ctx, uuid, "reboot_hard" if kind == "HARD" else "reboot")
    elif "shelve" in body:
        c.api.lifecycle.shelve(call.ctx, uuid)
    elif "shelveOffload" in body:
        c.api.lifecycle.shelve_offload(call.ctx, uuid)
    elif "unshelve" in body:
        c.api.lifecycle.unshelve(call.ctx, uuid, _unshelve_zone(body["unshelve"], call.version))
    elif "resize" in body:
        ref = _member(body, "resize").get("flavorRef")
        if not ref:
            raise BadRequest("Invalid input for field/attribute resize. Value: flavorRef is a required property")
        c.api.lifecycle.resize(call.ctx, uuid, str(ref).rstrip("/").rsplit("/", 1)[-1])
    elif "confirmResize" in body:
        c.api.lifecycle.confirm_resize(call.ctx, uuid)
        return 204, None
    elif "revertResize" in body:
        c.api.lifecycle.revert_resize(call.ctx, uuid)
    elif "restore" in body:
        c.api.soft.restore(call.ctx, uuid)
    elif "forceDelete" in body:
        c.api.force_delete(call.ctx, uuid)
    else:
        raise BadRequest(f"There is no such action: {', '.join(body) or '(none)'}")
    return 202, None


def _unshelve_zone(raw: Any, version: tuple[int, int]) -> str | None:
    """``{"unshelve": null}``; from 2.77 ``{"unshelve": {"availability_zone": …}}`` as well."""
    if raw is None:
        return None
    if version < (2, 77) or not isinstance(raw, dict) or set(raw) - {"availability_zone"}:
        raise BadRequest("Invalid input for field/attribute unshelve.")
    zone = raw.get("availability_zone")
    if zone is not None and not isinstance(zone, str):
        raise BadRequest("Invalid input for field/attribute availability_zone.")
    return zone


def _interfaces(c: LabCompute, call: Call, uuid: str) -> Result:
    parts = call.parts[2:]
    if not parts and call.method == "GET":
        c.api.get(call.ctx, uuid)
        return 200, {"interfaceAttachments": [v.interface_view(p) for p in c.api.ports(uuid)]}
    if not parts and call.method == "POST":
        body = _member(call.body, "interfaceAttachment")
        if not (body.get("net_id") or body.get("port_id")):
            raise BadRequest("Either net_id or port_id must be given.")
        port = c.api.attach_interface(call.ctx, uuid, body.get("net_id"), body.get("port_id"))
        return 200, {"interfaceAttachment": v.interface_view(port)}
    if len(parts) == 1 and call.method == "GET":
        found = [p for p in c.api.ports(c.api.get(call.ctx, uuid)["uuid"]) if p["port_id"] == parts[0]]
        if not found:
            raise NotFound(f"Port {parts[0]} is not attached")
        return 200, {"interfaceAttachment": v.interface_view(found[0])}
    if len(parts) == 1 and call.method == "DELETE":
        c.api.detach_interface(call.ctx, uuid, parts[0])
        return 202, None
    raise _MethodNotAllowed("Method not allowed")


def _attachment_view(uuid: str, bdm: dict[str, Any]) -> dict[str, Any]:
    return {"id": bdm["volume_id"], "serverId": uuid, "volumeId": bdm["volume_id"], "device": bdm["device_name"],
            "delete_on_termination": bool(bdm["delete_on_termination"])}


def _volume_attachments(c: LabCompute, call: Call, uuid: str) -> Result:
    """``/servers/{id}/os-volume_attachments``: list, show, attach (POST), detach (DELETE)."""
    parts = call.parts[2:]
    if not parts and call.method == "GET":
        return 200, {"volumeAttachments": [_attachment_view(uuid, b) for b in c.api.volume_attachments(call.ctx,
                                                                                                          uuid)]}
    if not parts and call.method == "POST":
        body = _member(call.body, "volumeAttachment")
        if not isinstance(body.get("volumeId"), str):
            raise BadRequest("Invalid input for field/attribute volumeId.")
        out = c.api.attach_volume(call.ctx, uuid, body["volumeId"], body.get("device"))
        return 200, {"volumeAttachment": out}
    if len(parts) == 1 and call.method == "GET":
        found = [b for b in c.api.volume_attachments(call.ctx, uuid) if b["volume_id"] == parts[0]]
        if not found:
            raise NotFound(f"Instance {uuid} is not attached to volume {parts[0]}.")
        return 200, {"volumeAttachment": _attachment_view(uuid, found[0])}
    if len(parts) == 1 and call.method == "DELETE":
        c.api.detach_volume(call.ctx, uuid, parts[0])
        return 202, None
    raise _MethodNotAllowed("Method not allowed")


# ---- flavors ---------------------------------------------------------------------------------------
def flavors(c: LabCompute, call: Call) -> Result:
    from sqlalchemy import delete, insert

    from regionmesh.db import models as m

    parts, method = call.parts, call.method
    if not parts or parts == ["detail"]:
        if method == "POST" and not parts:
            _require_admin(call.ctx)
            f = _member(call.body, "flavor")
            fid = str(f.get("id") or f["name"])
            values = {"id": fid, "name": f["name"], "vcpus": int(f["vcpus"]), "memory_mb": int(f["ram"]),
                      "root_gb": int(f.get("disk", 0)), "ephemeral_gb": int(f.get("OS-FLV-EXT-DATA:ephemeral", 0)),
                      "is_public": bool(f.get("os-flavor-access:is_public", True))}

            def create(conn: Any) -> None:
                try:
                    s.get_flavor(conn, fid)
                except NotFound:
                    conn.execute(insert(m.compute_flavors).values(**values))
                    return
                raise Conflict(f"Flavor with ID {fid} already exists.")

            c.rt.db.transaction(create)
            return 200, {"flavor": v.flavor_view(values, call.base)}
        with c.rt.db.read() as conn:
            items = s.list_flavors(conn)
        if parts:
            return 200, {"flavors": [v.flavor_view(f, call.base) for f in items]}
        return 200, {"flavors": [{k: fv[k] for k in ("id", "name", "links", "description")}
                                 for fv in (v.flavor_view(f, call.base) for f in items)]}
    with c.rt.db.read() as conn:
        flavor = s.get_flavor(conn, parts[0])
    if len(parts) == 2 and parts[1] == "os-extra_specs":
        return 200, {"extra_specs": {}}
    if method == "GET":
        return 200, {"flavor": v.flavor_view(flavor, call.base)}
    if method == "DELETE":
        _require_admin(call.ctx)
        c.rt.db.transaction(lambda conn: conn.execute(delete(m.compute_flavors)
                                                      .where(m.compute_flavors.c.id == flavor["id"])))
        return 202, None
    raise _MethodNotAllowed("Method not allowed")


# ---- services, hypervisors, zones, limits --------------------------------------------------------
def _services(c: LabCompute) -> list[tuple[dict[str, Any], bool]]:
    now = c.rt.clock.now()
    with c.rt.db.read() as conn:
        return [(svc, s.service_is_up(svc, now, c.rt.config.service_down_time)) for svc in s.list_services(conn)]


def services(c: LabCompute, call: Call) -> Result:
    _require_admin(call.ctx)
    if call.method == "GET" and not call.parts:
        items = [v.service_view(svc, up) for svc, up in _services(c)]
        host, binary = call.param("host"), call.param("binary")
        return 200, {"services": [i for i in items if (not host or i["host"] == host)
                                  and (not binary or i["binary"] == binary)]}
    if call.method == "PUT" and len(call.parts) == 1:
        body = call.body if isinstance(call.body, dict) else {}
        values: dict[str, Any] = {}
        if "forced_down" in body:
            values["forced_down"] = bool(body["forced_down"])
        if "status" in body:
            values["disabled"] = body["status"] == "disabled"
            values["disabled_reason"] = body.get("disabled_reason")
        try:
            sid = int(call.parts[0])
        except ValueError as err:
            raise NotFound(f"Service {call.parts[0]} could not be found.") from err
        svc = c.rt.db.transaction(lambda conn: s.update_service(conn, sid, **values))
        up = s.service_is_up(svc, c.rt.clock.now(), c.rt.config.service_down_time)
        return 200, {"service": v.service_view(svc, up)}
    raise _MethodNotAllowed("Method not allowed")


def hypervisors(c: LabCompute, call: Call) -> Result:
    _require_admin(call.ctx)
    out = []
    for svc, up in _services(c):
        with c.rt.db.read() as conn:
            vcpus, ram = s.host_usage(conn, svc["host"])
        out.append({"id": svc["id"], "hypervisor_hostname": svc["host"], "state": "up" if up else "down",
                    "status": "disabled" if svc["disabled"] else "enabled", "hypervisor_type": "lab",
                    "host_ip": "127.0.0.1", "vcpus": svc["vcpus"], "vcpus_used": vcpus, "memory_mb": svc["memory_mb"],
                    "memory_mb_used": ram, "service": {"id": svc["id"], "host": svc["host"]}})
    return 200, {"hypervisors": out}


def zones(c: LabCompute, call: Call) -> Result:
    hosts = {svc["host"]: {"nova-compute": {"available": up, "active": not svc["disabled"],
                                            "updated_at": v.format_time(svc["last_seen_up"])}}
             for svc, up in _services(c)}
    zone: dict[str, Any] = {"zoneName": c.rt.config.availability_zone, "zoneState": {"available": True}}
    if call.parts == ["detail"] and call.ctx.is_admin:
        zone["hosts"] = hosts
    else:
        zone["hosts"] = None
    return 200, {"availabilityZoneInfo": [zone]}


def limits(c: LabCompute, call: Call) -> Result:
    lim = c.rt.config.quota_limits
    with c.rt.db.read() as conn:
        used = quota.usage(conn, call.ctx.project_id or "")
    return 200, {"limits": {"rate": [], "absolute": {
        "maxTotalInstances": lim["instances"], "maxTotalCores": lim["cores"], "maxTotalRAMSize": lim["ram"],
        "totalInstancesUsed": used["instances"], "totalCoresUsed": used["cores"], "totalRAMUsed": used["ram"],
        "maxServerMeta": 128, "maxPersonality": 5, "maxPersonalitySize": 10240, "maxImageMeta": 128,
        "maxTotalKeypairs": 100, "maxServerGroups": 10, "maxServerGroupMembers": 10,
        "totalServerGroupsUsed": 0, "maxSecurityGroups": -1, "maxSecurityGroupRules": -1,
        "maxTotalFloatingIps": -1, "totalFloatingIpsUsed": 0, "totalSecurityGroupsUsed": 0}}}


def keypairs(c: LabCompute, call: Call) -> Result:
    if call.method == "GET" and not call.parts:
        return 200, {"keypairs": []}
    raise NotFound("Key pairs are not implemented in the lab yet.")


def quota_sets(c: LabCompute, call: Call) -> Result:
    """``/os-quota-sets/{project}`` (limits) and ``…/detail`` (Nova's in_use / reserved / limit per resource)."""
    lim = c.rt.config.quota_limits
    project = call.parts[0] if call.parts else call.ctx.project_id or ""
    if project != call.ctx.project_id:
        _require_admin(call.ctx)
    if call.parts[1:] == ["detail"]:
        with c.rt.db.read() as conn:
            used, reserved = quota.usage(conn, project), quota.reserved(conn, project)
        return 200, {"quota_set": {"id": project, **{r: {"in_use": used[r], "limit": lim[r], "reserved": reserved[r]}
                                                     for r in ("instances", "cores", "ram")}}}
    return 200, {"quota_set": {"id": project, "instances": lim["instances"], "cores": lim["cores"],
                               "ram": lim["ram"]}}
