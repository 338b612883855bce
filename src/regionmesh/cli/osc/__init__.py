"""The ``openstack multiregion networking …`` commands: an OpenStackClient plugin for the Admin API.

Registered as the ``multiregion_networking`` extension (python-tricircleclient's API name), so the
anchor's commands — ``pod``, ``routing`` and ``job`` — work against RegionMesh's Admin API. The
package imports only ``osc_lib``/``keystoneauth1`` (never the service's own modules), so loading the
plugin costs every ``openstack`` invocation next to nothing.
"""
