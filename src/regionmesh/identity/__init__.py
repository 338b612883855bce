"""The lab's identity service: a Keystone v3 subset (the HTTP edge is ``regionmesh.api.identity_v3``).

``models`` (tables) and ``migrate`` (Alembic, own version table) hold the separate identity
database; ``store`` the entities and role assignments; ``tokens`` authentication, opaque tokens and
the access rules; ``passwords`` Argon2id hashing; ``bootstrap`` the lab's initial accounts and catalog.
Production deployments use a real Keystone instead; nothing else in RegionMesh depends on this package.
"""
