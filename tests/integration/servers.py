"""A Neutron API on a real HTTP listener, and openstacksdk connections to it."""

from __future__ import annotations

from typing import Any

import openstack
from keystoneauth1 import session as ks_session
from keystoneauth1.noauth import NoAuth

from regionmesh.api.server import ThreadedServer

PROJECT_A = "a" * 32
PROJECT_B = "b" * 32


class RunningNeutron:
    """A Neutron API served over real HTTP, and SDK connections to it."""

    def __init__(self, server: ThreadedServer, app: Any) -> None:
        self.server = server
        self.app = app
        self.url = server.url

    def sdk(self, project: str | None = None, roles: str = "member,reader") -> openstack.connection.Connection:
        headers = {} if project is None else {"X-Project-Id": project, "X-Roles": roles}
        sess = ks_session.Session(auth=NoAuth(endpoint=self.url), additional_headers=headers)
        return openstack.connection.Connection(session=sess, network_endpoint_override=self.url + "/",
                                               region_name="RegionOne")
