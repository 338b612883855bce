"""``openstack multiregion networking routing create|list|show|set|delete``: resource routings.

A routing maps a central resource (``top_id``) to its copy (``bottom_id``) in a pod. ``routing
update`` (python-tricircleclient's name) is kept as an alias of ``routing set``.
"""

from __future__ import annotations

import argparse
from typing import Any

from osc_lib.command import command

from regionmesh.cli.osc.v1 import admin_client, changes, for_each, listing, one

# The types an operator may write through the Admin API (the anchor's five, plus the later ones).
RESOURCE_TYPES = ("network", "subnet", "port", "router", "security_group", "trunk", "port_pair",
                  "port_pair_group", "flow_classifier", "port_chain", "qos_policy")
COLUMNS = (("id", "ID"), ("pod_id", "Pod ID"), ("resource_type", "Resource Type"), ("top_id", "Top ID"))
LONG_COLUMNS = (*COLUMNS, ("bottom_id", "Bottom ID"), ("project_id", "Project ID"),
                ("created_at", "Created At"), ("updated_at", "Updated At"))
# (argparse dest, API field) of the fields create/set write.
FIELDS = (("top_id", "top_id"), ("bottom_id", "bottom_id"), ("pod_id", "pod_id"), ("project_id", "project_id"),
          ("resource_type", "resource_type"))
FILTERS = (("routing", "id"), *FIELDS, ("created_at", "created_at"), ("updated_at", "updated_at"))


def _add_field_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--top-id", metavar="<top-id>", required=required, help="Resource ID in central Neutron")
    parser.add_argument("--bottom-id", metavar="<bottom-id>", required=required,
                        help="Resource ID in the region's local Neutron")
    parser.add_argument("--pod-id", metavar="<pod-id>", required=required, help="ID of the pod")
    parser.add_argument("--project-id", metavar="<project-id>", required=required,
                        help="ID of the owning project in Keystone")
    parser.add_argument("--resource-type", metavar="<resource-type>", required=required, choices=RESOURCE_TYPES,
                        help="Resource type: " + ", ".join(RESOURCE_TYPES))


def _add_routing_argument(parser: argparse.ArgumentParser, help_text: str, *, many: bool = False) -> None:
    parser.add_argument("routing", metavar="<routing>", nargs="+" if many else None, help=help_text)


class CreateRouting(command.ShowOne):
    """Create a resource routing."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _add_field_options(parser, required=True)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        return one(admin_client(self).create_routing(changes(parsed_args, FIELDS)))


class ListRoutings(command.Lister):
    """List resource routings (all pages unless --limit is given)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--limit", metavar="<num-routings>", type=int,
                            help="Maximum number of routings to return (one page)")
        parser.add_argument("--marker", metavar="<routing>",
                            help="ID of the last routing of the previous page; list the ones after it")
        parser.add_argument("--routing", metavar="<routing>", help="Only the routing with this ID")
        parser.add_argument("--top-id", metavar="<top-id>", help="Only routings of this central resource ID")
        parser.add_argument("--bottom-id", metavar="<bottom-id>", help="Only routings to this local resource ID")
        parser.add_argument("--pod-id", metavar="<pod-id>", help="Only routings into this pod")
        parser.add_argument("--project-id", metavar="<project-id>", help="Only routings of this project")
        parser.add_argument("--resource-type", metavar="<resource-type>", choices=RESOURCE_TYPES,
                            help="Only routings of this resource type")
        parser.add_argument("--created-at", metavar="<created-at>", help="Only routings created at this time")
        parser.add_argument("--updated-at", metavar="<updated-at>", help="Only routings updated at this time")
        parser.add_argument("--long", action="store_true", default=False, help="List additional fields in output")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        items = admin_client(self).list_routings(changes(parsed_args, FILTERS), limit=parsed_args.limit,
                                                 marker=parsed_args.marker)
        return listing(LONG_COLUMNS if parsed_args.long else COLUMNS, items)


class ShowRouting(command.ShowOne):
    """Display resource routing details."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _add_routing_argument(parser, "ID of the routing to display")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        return one(admin_client(self).get_routing(parsed_args.routing))


class SetRouting(command.Command):
    """Set resource routing fields (changing Tricircle-made entries can break central's view)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _add_field_options(parser, required=False)
        _add_routing_argument(parser, "ID of the routing to modify")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        admin_client(self).update_routing(parsed_args.routing, changes(parsed_args, FIELDS))


class DeleteRouting(command.Command):
    """Delete resource routing(s)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _add_routing_argument(parser, "ID(s) of the routing(s) to delete", many=True)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        for_each(parsed_args.routing, "routings", "delete", admin_client(self).delete_routing)
