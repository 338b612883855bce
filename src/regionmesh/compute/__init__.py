"""Lab compute (Nova/Glance subset): instances, hosts and heartbeats, seed 004's delete paths, images.

Imports only ``regionmesh.context``, ``db``, ``config``, ``identity`` and ``network`` (layering); the
HTTP edges live in ``regionmesh.api.compute_v21`` and ``regionmesh.api.image_v2``.
"""
