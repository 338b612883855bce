"""The OpenStackClient plugin hooks (``openstack.cli.extension`` entry point ``multiregion_networking``).

OSC calls ``build_option_parser`` to add the global options and ``make_client`` the first time a
command asks for ``client_manager.multiregion_networking``. Where the Admin API is found:

1. an endpoint override, if one is given: ``--os-multiregion-networking-endpoint-override`` (also
   spelt ``--os-multiregion-networking-endpoint`` and, as in python-tricircleclient,
   ``--os-multiregion-networking-url``; env ``OS_MULTIREGION_NETWORKING_ENDPOINT_OVERRIDE`` or
   ``OS_MULTIREGION_NETWORKING_URL``), or ``multiregion_networking_endpoint_override`` in the cloud's
   ``clouds.yaml`` entry — the standard ``<service>_endpoint_override`` key of openstacksdk/OSC;
2. else the service catalog's ``multiregion-networking`` endpoint for the region (``--os-region-name``,
   or the cloud's first region) and interface (``--os-interface``, default ``public``).

Requests go through OSC's keystoneauth session, so the token is attached (and renewed) by it.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Final

from osc_lib import exceptions as osc_exc

from regionmesh.cli.osc.client import AdminClient

API_NAME: Final = "multiregion_networking"
API_VERSION_OPTION: Final = "os_multiregion_networking_api_version"
DEFAULT_API_VERSION: Final = "1"
API_VERSIONS: Final[dict[str, str]] = {"1": "regionmesh.cli.osc.client.AdminClient"}
# The cloud-config key OSC/openstacksdk read for a per-service endpoint override.
OVERRIDE_KEY: Final = "multiregion_networking_endpoint_override"


def make_client(instance: Any) -> AdminClient:
    """The Admin API client for OSC's ``ClientManager`` (its session, region, interface and overrides)."""
    version = str(instance._api_version.get(API_NAME, DEFAULT_API_VERSION))
    if version not in API_VERSIONS:
        raise osc_exc.CommandError(f"Multiregion networking API version {version} is not supported; "
                                   f"use one of: {', '.join(sorted(API_VERSIONS))}.")
    instance.setup_auth()
    config = instance.get_configuration()
    override = config.get(OVERRIDE_KEY) or config.get("multiregion_networking_url")
    return AdminClient(instance.session, region_name=instance.region_name, interface=instance.interface,
                       endpoint_override=override)


def build_option_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the plugin's global options (API version, endpoint override)."""
    parser.add_argument(
        "--os-multiregion-networking-api-version",
        metavar="<multiregion-networking-api-version>",
        default=os.environ.get("OS_MULTIREGION_NETWORKING_API_VERSION") or None,
        help=f"Multiregion networking (Admin) API version, default={DEFAULT_API_VERSION} "
             "(Env: OS_MULTIREGION_NETWORKING_API_VERSION)",
    )
    parser.add_argument(
        "--os-multiregion-networking-endpoint-override",
        "--os-multiregion-networking-endpoint",
        "--os-multiregion-networking-url",
        dest="os_multiregion_networking_endpoint_override",
        metavar="<url>",
        default=(os.environ.get("OS_MULTIREGION_NETWORKING_ENDPOINT_OVERRIDE")
                 or os.environ.get("OS_MULTIREGION_NETWORKING_URL") or None),
        help="Admin API URL to use instead of the catalog's multiregion-networking endpoint "
             "(Env: OS_MULTIREGION_NETWORKING_ENDPOINT_OVERRIDE, OS_MULTIREGION_NETWORKING_URL)",
    )
    return parser
