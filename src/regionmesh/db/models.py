"""Table definitions (SQLAlchemy Core) for the Neutron model.

Every resource table carries Neutron's standard attributes. Uniqueness that must hold under
concurrency is enforced by keys, not by application checks: an IP address once per subnet, a MAC
once per network, one default security group per project, one segment id per (type, physnet).
Schema changes happen only through Alembic migrations (``db/migrations``); a test checks that the
migrations produce exactly this metadata.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


def _standard(*, name: bool = True) -> list[Column[Any]]:
    cols: list[Column[Any]] = [
        Column("id", String(36), primary_key=True),
        Column("project_id", String(255), index=True),
    ]
    if name:
        cols.append(Column("name", String(255), nullable=False, default=""))
    cols += [
        Column("description", String(255), nullable=False, default=""),
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
        Column("revision_number", BigInteger, nullable=False, default=1),
    ]
    return cols


networks = Table(
    "networks", metadata, *_standard(),
    Column("admin_state_up", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("shared", Boolean, nullable=False, default=False),
    Column("mtu", Integer, nullable=False),
    Column("router_external", Boolean, nullable=False, default=False),
    Column("is_default", Boolean, nullable=False, default=False),
    Column("port_security_enabled", Boolean, nullable=False, default=True),
    Column("network_type", String(32)),
    Column("physical_network", String(64)),
    Column("segmentation_id", Integer),
    Column("availability_zone_hints", Text, nullable=False, default="[]"),
    Column("dns_domain", String(255), nullable=False, default=""),
)

# One row per allocated segment; the primary key makes concurrent allocation race-free.
segment_allocations = Table(
    "segment_allocations", metadata,
    Column("network_type", String(32), nullable=False),
    Column("physical_network", String(64), nullable=False, default=""),
    Column("segmentation_id", Integer, nullable=False),
    Column("network_id", String(36), ForeignKey("networks.id", ondelete="CASCADE"), nullable=False,
           index=True),
    PrimaryKeyConstraint("network_type", "physical_network", "segmentation_id"),
)

subnets = Table(
    "subnets", metadata, *_standard(),
    Column("network_id", String(36), ForeignKey("networks.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("ip_version", Integer, nullable=False),
    Column("cidr", String(64), nullable=False),
    Column("gateway_ip", String(64)),
    Column("enable_dhcp", Boolean, nullable=False),
    Column("ipv6_ra_mode", String(16)),
    Column("ipv6_address_mode", String(16)),
    Column("subnetpool_id", String(36), index=True),
    Column("segment_id", String(36)),
    # Ordered lists kept as JSON: they are always read and written whole with the subnet.
    Column("allocation_pools", Text, nullable=False, default="[]"),
    Column("dns_nameservers", Text, nullable=False, default="[]"),
    Column("host_routes", Text, nullable=False, default="[]"),
    Column("service_types", Text, nullable=False, default="[]"),
)

# Subnet pools (subnet_allocation): prefixes kept as JSON, read and written whole with the pool;
# allocation serialises on the pool row (locked in the subnet create's transaction).
subnetpools = Table(
    "subnetpools", metadata, *_standard(),
    Column("ip_version", Integer, nullable=False),
    Column("prefixes", Text, nullable=False, default="[]"),
    Column("default_prefixlen", Integer, nullable=False),
    Column("min_prefixlen", Integer, nullable=False),
    Column("max_prefixlen", Integer, nullable=False),
    Column("shared", Boolean, nullable=False, default=False),
    Column("is_default", Boolean, nullable=False, default=False),
    Column("default_quota", Integer),
    Column("address_scope_id", String(36)),
)

ports = Table(
    "ports", metadata, *_standard(),
    Column("network_id", String(36), ForeignKey("networks.id"), nullable=False, index=True),
    Column("mac_address", String(32), nullable=False),
    Column("admin_state_up", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("device_id", String(255), nullable=False, default="", index=True),
    Column("device_owner", String(255), nullable=False, default="", index=True),
    Column("port_security_enabled", Boolean, nullable=False, default=True),
    Column("binding_host_id", String(255), nullable=False, default=""),
    Column("binding_profile", Text, nullable=False, default="{}"),
    Column("binding_vif_type", String(64), nullable=False, default="unbound"),
    Column("binding_vnic_type", String(64), nullable=False, default="normal"),
    Column("binding_vif_details", Text, nullable=False, default="{}"),
    Column("allowed_address_pairs", Text, nullable=False, default="[]"),
    Column("extra_dhcp_opts", Text, nullable=False, default="[]"),
    Column("dns_name", String(255), nullable=False, default=""),
    UniqueConstraint("network_id", "mac_address"),
)

# (subnet, address) is the key: two concurrent creates can never both hold one address.
ipallocations = Table(
    "ipallocations", metadata,
    Column("port_id", String(36), ForeignKey("ports.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("ip_address", String(64), nullable=False),
    Column("subnet_id", String(36), ForeignKey("subnets.id", ondelete="CASCADE"), nullable=False),
    Column("network_id", String(36), nullable=False, index=True),
    PrimaryKeyConstraint("subnet_id", "ip_address"),
)

securitygroups = Table(
    "securitygroups", metadata, *_standard(),
    Column("stateful", Boolean, nullable=False, default=True),
    Column("shared", Boolean, nullable=False, default=False),
)

# The project's default group; the primary key makes "create on first need" race-free.
default_security_groups = Table(
    "default_security_groups", metadata,
    Column("project_id", String(255), primary_key=True),
    Column("security_group_id", String(36), ForeignKey("securitygroups.id", ondelete="CASCADE"),
           nullable=False),
)

securitygrouprules = Table(
    "securitygrouprules", metadata, *_standard(name=False),
    Column("security_group_id", String(36), ForeignKey("securitygroups.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("remote_group_id", String(36), ForeignKey("securitygroups.id", ondelete="CASCADE"),
           index=True),
    Column("remote_address_group_id", String(36)),
    Column("direction", String(16), nullable=False),
    Column("ethertype", String(8), nullable=False),
    Column("protocol", String(40)),
    Column("port_range_min", Integer),
    Column("port_range_max", Integer),
    Column("remote_ip_prefix", String(64)),
    Column("normalized_cidr", String(64)),
)

securitygroupportbindings = Table(
    "securitygroupportbindings", metadata,
    Column("port_id", String(36), ForeignKey("ports.id", ondelete="CASCADE"), nullable=False),
    Column("security_group_id", String(36), ForeignKey("securitygroups.id"), nullable=False, index=True),
    PrimaryKeyConstraint("port_id", "security_group_id"),
)

routers = Table(
    "routers", metadata, *_standard(),
    Column("status", String(16), nullable=False),
    Column("admin_state_up", Boolean, nullable=False),
    Column("gw_port_id", String(36), ForeignKey("ports.id")),
    Column("enable_snat", Boolean, nullable=False, default=True),
    Column("availability_zone_hints", Text, nullable=False, default="[]"),
    Column("routes", Text, nullable=False, default="[]"),
    Column("distributed", Boolean, nullable=False, default=False),
    Column("ha", Boolean, nullable=False, default=False),
    Column("flavor_id", String(36)),
)

routerports = Table(
    "routerports", metadata,
    Column("router_id", String(36), ForeignKey("routers.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("port_id", String(36), ForeignKey("ports.id", ondelete="CASCADE"), nullable=False),
    Column("port_type", String(255), nullable=False),
    PrimaryKeyConstraint("router_id", "port_id"),
)

floatingips = Table(
    "floatingips", metadata, *_standard(name=False),
    Column("floating_ip_address", String(64), nullable=False),
    Column("floating_network_id", String(36), ForeignKey("networks.id"), nullable=False, index=True),
    Column("floating_port_id", String(36), ForeignKey("ports.id", ondelete="CASCADE"), nullable=False),
    Column("fixed_port_id", String(36), ForeignKey("ports.id"), index=True),
    Column("fixed_ip_address", String(64)),
    Column("router_id", String(36), ForeignKey("routers.id"), index=True),
    Column("status", String(16), nullable=False),
    Column("dns_name", String(255), nullable=False, default=""),
    Column("dns_domain", String(255), nullable=False, default=""),
    UniqueConstraint("floating_network_id", "fixed_port_id", "fixed_ip_address"),
)

tags = Table(
    "tags", metadata,
    Column("resource_type", String(64), nullable=False),
    Column("resource_id", String(36), nullable=False),
    Column("tag", String(255), nullable=False),
    PrimaryKeyConstraint("resource_type", "resource_id", "tag"),
    Index("ix_tags_tag", "tag"),
)

quotas = Table(
    "quotas", metadata,
    Column("project_id", String(255), nullable=False),
    Column("resource", String(255), nullable=False),
    Column("limit", Integer, nullable=False),
    PrimaryKeyConstraint("project_id", "resource"),
)

reservations = Table(
    "reservations", metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(255), nullable=False, index=True),
    Column("expiration", DateTime, nullable=False),
)

reservation_deltas = Table(
    "reservation_deltas", metadata,
    Column("reservation_id", String(36), ForeignKey("reservations.id", ondelete="CASCADE"),
           nullable=False),
    Column("resource", String(255), nullable=False),
    Column("amount", Integer, nullable=False),
    PrimaryKeyConstraint("reservation_id", "resource"),
)

notifications = Table(
    "notifications", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_type", String(255), nullable=False, index=True),
    Column("project_id", String(255)),
    Column("request_id", String(64)),
    Column("timestamp", Float, nullable=False),
    Column("payload", Text, nullable=False),
)


# ================================================================================================
# Central (multi-region) tables: pods, routings, jobs, job log, deleting markers (migration 0002)
# ================================================================================================

# One row per region registered with the Admin API; the row with az_name '' is the top (central) region.
pods = Table(
    "pods", metadata,
    Column("pod_id", String(36), primary_key=True),
    Column("region_name", String(255), nullable=False, unique=True),
    Column("az_name", String(255), nullable=False, default=""),
    Column("pod_az_name", String(255), nullable=False, default=""),
    Column("dc_name", String(255), nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime),
)

# top id -> (pod, bottom id). A NULL bottom_id is a placeholder: the bottom copy is being created.
resource_routings = Table(
    "resource_routings", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("top_id", String(127), nullable=False),
    Column("bottom_id", String(36), index=True),
    Column("pod_id", String(36), ForeignKey("pods.pod_id"), nullable=False),
    Column("project_id", String(255)),
    Column("resource_type", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime),
    UniqueConstraint("top_id", "pod_id", "resource_type"),
)

# One row per (type, resource): repeated requests coalesce into it and at most one run holds it
# (status RUNNING with a lease). ``generation`` counts requests so a run that finishes after a newer
# request re-queues the job instead of reporting SUCCESS (level-triggered, no lost change).
jobs = Table(
    "jobs", metadata,
    Column("id", String(36), primary_key=True),
    Column("type", String(36), nullable=False),
    Column("resource_id", String(255), nullable=False),
    Column("project_id", String(255)),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("requested_at", DateTime, nullable=False),
    Column("generation", Integer, nullable=False, default=1),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("next_attempt_at", DateTime),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", DateTime),
    Column("waiting_on", String(255)),
    UniqueConstraint("type", "resource_id"),
    Index("ix_jobs_status_next_attempt_at", "status", "next_attempt_at"),
    Index("ix_jobs_updated_at_id", "updated_at", "id"),
)

# History: one row per finished run (the Admin API's job log); ``status`` is what the run left the job in.
job_logs = Table(
    "job_logs", metadata,
    Column("id", String(36), primary_key=True),
    Column("job_id", String(36), nullable=False, index=True),
    Column("type", String(36), nullable=False),
    Column("resource_id", String(255), nullable=False),
    Column("project_id", String(255)),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", Text),
    Column("started_at", DateTime),
    Column("finished_at", DateTime, nullable=False),
)

# A resource being deleted centrally; regions must not lazily re-create it meanwhile.
deleting_resources = Table(
    "deleting_resources", metadata,
    Column("resource_id", String(127), nullable=False),
    Column("resource_type", String(64), nullable=False),
    Column("deleted_at", DateTime, nullable=False),
    PrimaryKeyConstraint("resource_id", "resource_type"),
)


# ---- region side ---------------------------------------------------------------------------------
# Changes a region applied while central was unreachable, waiting to be forwarded (OQ-01).
region_outbox = Table(
    "region_outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("resource_type", String(64), nullable=False),
    Column("resource_id", String(36), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
)


# ---- compute (lab Nova + Glance subset) -----------------------------------------------------------
# Owned by ``regionmesh.compute``. Instance rows are soft-deleted (``deleted_at``) as Nova does, so a
# late terminate or a returning host can tell "deleted" from "never existed".
compute_instances = Table(
    "compute_instances", metadata,
    Column("uuid", String(36), primary_key=True),
    Column("project_id", String(255), nullable=False, index=True),
    Column("user_id", String(255)),
    Column("name", String(255), nullable=False),
    Column("flavor_id", String(255), nullable=False),
    Column("vcpus", Integer, nullable=False),
    Column("memory_mb", Integer, nullable=False),
    Column("root_gb", Integer, nullable=False),
    Column("image_id", String(36)),
    Column("vm_state", String(32), nullable=False),
    Column("task_state", String(32)),
    Column("power_state", Integer, nullable=False, default=0),
    Column("host", String(255), index=True),
    Column("availability_zone", String(255)),
    Column("disable_terminate", Boolean, nullable=False, default=False),
    Column("progress", Integer, nullable=False, default=0),
    Column("fault", Text),
    Column("request", Text),
    Column("key_name", String(255)),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("deleted_at", DateTime),
    Column("terminated_at", DateTime),
    # Nova's instance.system_metadata (JSON): shelved_image_id, shelved_host, shelved_at, old_vm_state.
    Column("system_metadata", Text),
    # When a soft delete (reclaim_instance_interval > 0) finished; the reclaim periodic counts from here.
    Column("soft_deleted_at", DateTime),
)

compute_flavors = Table(
    "compute_flavors", metadata,
    Column("id", String(255), primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("vcpus", Integer, nullable=False),
    Column("memory_mb", Integer, nullable=False),
    Column("root_gb", Integer, nullable=False),
    Column("ephemeral_gb", Integer, nullable=False, default=0),
    Column("is_public", Boolean, nullable=False, default=True),
)

# One row per nova-compute service: the heartbeat (``last_seen_up``) decides up/down.
compute_services = Table(
    "compute_services", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("host", String(255), nullable=False),
    Column("binary", String(64), nullable=False),
    Column("zone", String(255), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("disabled_reason", String(255)),
    Column("forced_down", Boolean, nullable=False, default=False),
    Column("last_seen_up", DateTime),
    Column("vcpus", Integer, nullable=False),
    Column("memory_mb", Integer, nullable=False),
    UniqueConstraint("host", "binary"),
)

# Nova's network info cache: which Neutron ports an instance has, as last seen.
compute_instance_ports = Table(
    "compute_instance_ports", metadata,
    Column("port_id", String(36), primary_key=True),
    Column("instance_uuid", String(36), nullable=False, index=True),
    Column("network_id", String(36), nullable=False),
    Column("network_name", String(255)),
    Column("fixed_ips", Text, nullable=False),
    Column("mac_address", String(32)),
    Column("preexisting", Boolean, nullable=False, default=False),
)

compute_images = Table(
    "compute_images", metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255)),
    Column("status", String(32), nullable=False),
    Column("visibility", String(32), nullable=False),
    Column("protected", Boolean, nullable=False, default=False),
    Column("owner", String(255)),
    Column("min_disk", Integer, nullable=False, default=0),
    Column("min_ram", Integer, nullable=False, default=0),
    Column("disk_format", String(32)),
    Column("container_format", String(32)),
    Column("size", BigInteger),
    Column("checksum", String(64)),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

compute_quota_usages = Table(
    "compute_quota_usages", metadata,
    Column("project_id", String(255), nullable=False),
    Column("resource", String(32), nullable=False),
    Column("in_use", Integer, nullable=False, default=0),
    PrimaryKeyConstraint("project_id", "resource"),
)

# Pending quota deltas (Nova's reservations): committed into usages or rolled back, never left.
compute_quota_reservations = Table(
    "compute_quota_reservations", metadata,
    Column("id", String(36), nullable=False),
    Column("project_id", String(255), nullable=False),
    Column("instance_uuid", String(36), index=True),
    Column("resource", String(32), nullable=False),
    Column("delta", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
    PrimaryKeyConstraint("id", "resource"),
)


# ---- volumes (lab Cinder v3 subset + Nova block device mappings) ---------------------------------
# Owned by ``regionmesh.compute.volumes`` / ``regionmesh.compute.block_device``. Volume and snapshot
# rows are soft-deleted (``deleted_at``, status ``deleted``) so a test can see how a volume ended;
# quota usage is computed from live rows, so it cannot leak.
volumes = Table(
    "volumes", metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(255), nullable=False, index=True),
    Column("user_id", String(255)),
    Column("name", String(255)),
    Column("description", Text),
    Column("size", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("attach_status", String(32), nullable=False),
    Column("availability_zone", String(255)),
    Column("host", String(255)),
    Column("bootable", Boolean, nullable=False, default=False),
    Column("image_id", String(36)),
    Column("snapshot_id", String(36), index=True),
    Column("source_volid", String(36)),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("deleted_at", DateTime),
)

volume_snapshots = Table(
    "volume_snapshots", metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(255), nullable=False, index=True),
    Column("volume_id", String(36), nullable=False, index=True),
    Column("name", String(255)),
    Column("description", Text),
    Column("size", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("deleted_at", DateTime),
)

# Cinder's attachment records: which instance (on which host, at which device) uses a volume.
volume_attachments = Table(
    "volume_attachments", metadata,
    Column("id", String(36), primary_key=True),
    Column("volume_id", String(36), nullable=False, index=True),
    Column("instance_uuid", String(36), index=True),
    Column("attached_host", String(255)),
    Column("mountpoint", String(255)),
    Column("attach_status", String(32), nullable=False),
    Column("connector", Text),
    Column("attached_at", DateTime),
    Column("detached_at", DateTime),
)

# The RBD exclusive lock (VOL-01/02): held by a host's guest while it uses the image. A lock is
# released by its holder, or broken by a delete (``broken_at``) when the holder is gone.
volume_locks = Table(
    "volume_locks", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("volume_id", String(36), nullable=False, index=True),
    Column("holder_host", String(255), nullable=False),
    Column("instance_uuid", String(36)),
    Column("cookie", String(64), nullable=False),
    Column("acquired_at", DateTime, nullable=False),
    Column("released_at", DateTime),
    Column("broken_at", DateTime),
)

# Nova's block device mappings: an instance's volumes and what to do with them on delete.
compute_block_device_mappings = Table(
    "compute_block_device_mappings", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("instance_uuid", String(36), nullable=False, index=True),
    Column("volume_id", String(36), index=True),
    Column("boot_index", Integer),
    Column("device_name", String(255)),
    Column("source_type", String(32), nullable=False),
    Column("destination_type", String(32), nullable=False),
    Column("image_id", String(36)),
    Column("volume_size", Integer),
    Column("delete_on_termination", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
)

# Nova's migrations table, for resize: where the instance came from and went to, both flavors, and
# the quota reservation for the flavor change until the host applies it.
compute_migrations = Table(
    "compute_migrations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("instance_uuid", String(36), nullable=False, index=True),
    Column("migration_type", String(32), nullable=False),
    Column("source_compute", String(255)),
    Column("dest_compute", String(255)),
    Column("old_flavor_id", String(255), nullable=False),
    Column("new_flavor_id", String(255), nullable=False),
    Column("old_vcpus", Integer, nullable=False),
    Column("old_memory_mb", Integer, nullable=False),
    Column("old_root_gb", Integer, nullable=False),
    Column("new_vcpus", Integer, nullable=False),
    Column("new_memory_mb", Integer, nullable=False),
    Column("new_root_gb", Integer, nullable=False),
    Column("old_vm_state", String(32)),
    Column("status", String(32), nullable=False, index=True),
    Column("reservation_id", String(36)),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)
