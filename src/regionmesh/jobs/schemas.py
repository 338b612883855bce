"""Job types and the keys of their resources (the anchor's ``job_resource_map``, ``GET /jobs/schemas``).

A job's resource is stored as one ``resource_id``: the values joined with ``#`` in key order
(``router_setup`` → ``<pod_id>#<router_id>#<network_id>``). The *primary* resource of a type is the
one whose ownership the Admin API checks through the routing table before accepting a job.

Deviation from the anchor: ``sync_qos_rule``'s schema said ``[rule_id, policy_id]`` while the code
stored only the policy id, so Admin-API-created jobs of that type were unusable; here the schema is
``[policy_id]``, matching what the job really needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from sqlalchemy import Connection

from regionmesh.central.routings import project_owns
from regionmesh.jobs.errors import InvalidJobRequest, UnknownJobType

SEPARATOR: Final = "#"
# ``pod_id`` value meaning "every pod where the resource is mapped" (fan-out).
POD_NOT_SPECIFIED: Final = "not_specified_pod"

ROUTER_SETUP: Final = "router_setup"
CONFIGURE_ROUTE: Final = "configure_route"
PORT_DELETE: Final = "port_delete"
SEG_RULE_SETUP: Final = "seg_rule_setup"
UPDATE_NETWORK: Final = "update_network"
SUBNET_UPDATE: Final = "subnet_update"
SHADOW_PORT_SETUP: Final = "shadow_port_setup"
TRUNK_SYNC: Final = "trunk_sync"
SFC_SYNC: Final = "sfc_sync"
RESOURCE_RECYCLE: Final = "resource_recycle"
QOS_CREATE: Final = "qos_create"
QOS_UPDATE: Final = "qos_update"
QOS_DELETE: Final = "qos_delete"
SYNC_QOS_RULE: Final = "sync_qos_rule"


@dataclass(frozen=True, slots=True)
class JobSchema:
    """A job type: its resource keys in storage order, and which key's ownership is checked."""

    type: str
    keys: tuple[str, ...]
    # (routing resource type, key) of the resource that must belong to the job's project; or None.
    primary: tuple[str, str] | None = None
    # The resource carries the project itself; it must equal the job's project_id.
    project_key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "resource": list(self.keys)}


_ALL = (
    JobSchema(CONFIGURE_ROUTE, ("router_id",), ("router", "router_id")),
    JobSchema(ROUTER_SETUP, ("pod_id", "router_id", "network_id"), ("router", "router_id")),
    JobSchema(PORT_DELETE, ("pod_id", "port_id"), ("port", "port_id")),
    JobSchema(SEG_RULE_SETUP, ("project_id",), None, "project_id"),
    JobSchema(UPDATE_NETWORK, ("pod_id", "network_id"), ("network", "network_id")),
    JobSchema(SUBNET_UPDATE, ("pod_id", "subnet_id"), ("subnet", "subnet_id")),
    JobSchema(SHADOW_PORT_SETUP, ("pod_id", "network_id"), ("network", "network_id")),
    JobSchema(TRUNK_SYNC, ("pod_id", "trunk_id"), ("trunk", "trunk_id")),
    JobSchema(SFC_SYNC, ("pod_id", "portchain_id", "network_id"), ("port_chain", "portchain_id")),
    JobSchema(RESOURCE_RECYCLE, ("project_id",), None, "project_id"),
    JobSchema(QOS_CREATE, ("pod_id", "policy_id", "res_type", "res_id"), ("qos_policy", "policy_id")),
    JobSchema(QOS_UPDATE, ("pod_id", "policy_id"), ("qos_policy", "policy_id")),
    JobSchema(QOS_DELETE, ("pod_id", "policy_id"), ("qos_policy", "policy_id")),
    JobSchema(SYNC_QOS_RULE, ("policy_id",), ("qos_policy", "policy_id")),
)
SCHEMAS: Final[Mapping[str, JobSchema]] = MappingProxyType({s.type: s for s in _ALL})
RESOURCE_ID_MAX: Final = 255


def schema_for(job_type: str) -> JobSchema:
    schema = SCHEMAS.get(job_type) if isinstance(job_type, str) else None
    if schema is None:
        raise UnknownJobType(job_type=job_type)
    return schema


def _set_text(names: set[str]) -> str:
    """The anchor printed Python sets; keep the look, but in a stable order."""
    return "{" + ", ".join(repr(n) for n in sorted(names)) + "}"


def resource_id_for(job_type: str, resource: Mapping[str, Any] | str) -> str:
    """Validate a resource (dict of keys, or an already joined id) and return the stored id."""
    schema = schema_for(job_type)
    if isinstance(resource, str):
        parts = resource.split(SEPARATOR)
        if len(parts) != len(schema.keys):
            raise InvalidJobRequest(msg=f"Resource id {resource!r} of a {job_type} job must have "
                                        f"{len(schema.keys)} part(s): {SEPARATOR.join(schema.keys)}")
        values = dict(zip(schema.keys, parts, strict=True))
    elif isinstance(resource, Mapping):
        given = set(resource)
        missing = set(schema.keys) - given
        redundant = given - set(schema.keys)
        if missing:
            raise InvalidJobRequest(msg=f"Some required fields are not specified: {_set_text(missing)}")
        if redundant:
            raise InvalidJobRequest(msg=f"Some fields are redundant: {_set_text(redundant)}")
        values = {k: resource[k] for k in schema.keys}
    else:
        raise InvalidJobRequest(msg="Failed to create job, because the resource is not specified")
    for key, value in values.items():
        if not isinstance(value, str) or not value.strip():
            raise InvalidJobRequest(msg=f"{key} can't be empty")
        if SEPARATOR in value:
            raise InvalidJobRequest(msg=f"{key} can't contain '{SEPARATOR}'")
    joined = SEPARATOR.join(values[k].strip() for k in schema.keys)
    if len(joined) > RESOURCE_ID_MAX:
        raise InvalidJobRequest(msg=f"The resource of the job is longer than {RESOURCE_ID_MAX} characters")
    return joined


def resource_dict(job_type: str, resource_id: str) -> dict[str, str]:
    """The Admin API's ``resource`` view: the stored id split on ``#`` and named by the schema."""
    schema = SCHEMAS.get(job_type)
    parts = resource_id.split(SEPARATOR)
    if schema is None:
        return {"resource_id": resource_id}
    return dict(zip(schema.keys, parts, strict=False))


def check_ownership(conn: Connection, job_type: str, project_id: str, resource: Mapping[str, str]) -> None:
    """The anchor's job-create check: the primary resource must belong to ``project_id``."""
    schema = schema_for(job_type)
    if schema.primary is not None:
        resource_type, key = schema.primary
        if not project_owns(conn, project_id, resource_type, resource[key]):
            raise InvalidJobRequest(msg=f"{resource_type} {resource[key]} doesn't belong to the project "
                                        f"{project_id}")
    if schema.project_key is not None and resource[schema.project_key] != project_id:
        raise InvalidJobRequest(msg=f"Specified project_id {project_id} and resource's project_id "
                                    f"{resource[schema.project_key]} are different")
