"""RegionMesh."""
