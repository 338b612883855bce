"""Settings: one typed object, read from a TOML file and ``REGIONMESH_*`` environment variables.

Precedence: built-in defaults < file (``--config-file`` or ``REGIONMESH_CONFIG``) < environment.
Nested sections map to ``REGIONMESH_<SECTION>__<KEY>`` (e.g. ``REGIONMESH_QUOTAS__PORT=100``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class DatabaseSettings:
    """Where the model lives: SQLite (WAL) by default, PostgreSQL via ``postgresql+psycopg://``."""

    url: str = "sqlite:///regionmesh.db"
    pool_size: int = 10
    echo: bool = False
    retry_limit: int = 10


@dataclass
class AuthSettings:
    """``keystone`` validates X-Auth-Token against Keystone v3; ``noauth`` trusts headers (tests only)."""

    strategy: str = "keystone"
    auth_url: str = "http://127.0.0.1:5000/v3"
    # The service's own credentials, used to validate user tokens (never logged).
    username: str = "neutron"
    password: str = field(default="", repr=False)
    project_name: str = "service"
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    cache_seconds: float = 60.0


@dataclass
class QuotaSettings:
    """Per-project defaults; -1 means unlimited (Neutron's convention)."""

    network: int = 100
    subnet: int = 100
    port: int = 500
    security_group: int = 10
    security_group_rule: int = 100
    router: int = 10
    floatingip: int = 50
    reservation_expiration: float = 120.0


@dataclass
class NetworkSettings:
    """Neutron's [ml2]/[ml2_type_*] choices that shape new networks."""

    tenant_network_types: list[str] = field(default_factory=lambda: ["vxlan", "local"])
    vlan_ranges: dict[str, list[int]] = field(default_factory=lambda: {"physnet1": [100, 199]})
    vxlan_vni_ranges: list[int] = field(default_factory=lambda: [1, 10000])
    flat_networks: list[str] = field(default_factory=lambda: ["*"])
    global_physnet_mtu: int = 1500
    vxlan_overhead: int = 50
    base_mac: str = "fa:16:3e:00:00:00"
    default_availability_zones: list[str] = field(default_factory=lambda: ["nova"])
    pagination_max_limit: int = 1000
    max_fixed_ips_per_port: int = 5
    max_routes: int = 30


@dataclass
class ApiSettings:
    host: str = "127.0.0.1"
    port: int = 9696
    policy_file: str | None = None
    # Shown in pagination links and version documents when behind a proxy.
    public_endpoint: str | None = None
    # Run request handlers in a thread pool (None: only when the database is not SQLite).
    threaded: bool | None = None


@dataclass
class RoleSettings:
    """Which role this Neutron API plays: ``standalone``, ``central`` (top) or ``region`` (bottom)."""

    role: str = "standalone"
    # For a region: its Keystone region name and availability zone, and where central is.
    region_name: str = ""
    az_name: str = ""
    central_url: str = ""
    central_timeout: float = 10.0
    # For central: each region's Neutron endpoint (lab; a real cloud finds them in the Keystone catalog).
    region_endpoints: dict[str, str] = field(default_factory=dict)
    # For central: the region of an external network created without a hint (OQ-03; "" = refuse).
    default_region_for_external_network: str = ""
    # For central: the pool each project's /24 bridge subnet (joining its routers' regions) comes from.
    bridge_cidr: str = "100.0.0.0/9"


@dataclass
class AdminApiSettings:
    """The Admin API (pods, routings, jobs; Tricircle's port) and the job queue's timing."""

    host: str = "127.0.0.1"
    port: int = 19999
    policy_file: str | None = None
    job_lease_seconds: float = 60.0
    job_backoff_base: float = 1.0
    job_backoff_cap: float = 300.0


@dataclass
class IdentitySettings:
    """The lab's Keystone v3 subset (production uses a real Keystone)."""

    host: str = "127.0.0.1"
    port: int = 5000
    database_url: str = "sqlite:///identity.db"
    # Base URL for version links and WWW-Authenticate; None: taken from each request.
    public_url: str | None = None
    token_expiration: int = 3600
    admin_project_name: str = "admin"
    admin_project_domain_name: str = "Default"


@dataclass
class Settings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    quotas: QuotaSettings = field(default_factory=QuotaSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    admin: AdminApiSettings = field(default_factory=AdminApiSettings)
    identity: IdentitySettings = field(default_factory=IdentitySettings)
    role: RoleSettings = field(default_factory=RoleSettings)


def _coerce(value: str, current: Any) -> Any:
    if isinstance(current, bool):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(current, int):
        return int(value)
    if isinstance(current, float):
        return float(value)
    if isinstance(current, list | dict):
        return json.loads(value)
    return value


def _merge(obj: T, data: dict[str, Any], where: str) -> T:
    names = {f.name: f for f in dataclasses.fields(obj)}  # type: ignore[arg-type]
    for key, value in data.items():
        if key not in names:
            raise ValueError(f"unknown setting {where}{key}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            _merge(current, value, f"{where}{key}.")
        else:
            setattr(obj, key, value)
    return obj


def load_settings(path: str | os.PathLike[str] | None = None,
                  env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from defaults, an optional TOML file, the environment and explicit overrides."""
    env = dict(os.environ) if env is None else env
    settings = Settings()
    path = path or env.get("REGIONMESH_CONFIG")
    if path:
        with Path(path).open("rb") as fh:
            _merge(settings, tomllib.load(fh), "")
    for key, raw in env.items():
        if not key.startswith("REGIONMESH_") or key == "REGIONMESH_CONFIG":
            continue
        parts = key[len("REGIONMESH_"):].lower().split("__")
        if len(parts) != 2:
            continue
        section = getattr(settings, parts[0], None)
        if section is None or not hasattr(section, parts[1]):
            continue
        setattr(section, parts[1], _coerce(raw, getattr(section, parts[1])))
    for dotted, value in overrides.items():
        section_name, _, attr = dotted.partition("__")
        setattr(getattr(settings, section_name), attr, value)
    return settings
