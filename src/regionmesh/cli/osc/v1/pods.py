"""``openstack multiregion networking pod create|list|show|set|delete``: the regions RegionMesh spans."""

from __future__ import annotations

import argparse
from typing import Any

from osc_lib.command import command

from regionmesh.cli.osc.v1 import admin_client, changes, for_each, listing, one

COLUMNS = (("pod_id", "ID"), ("region_name", "Region Name"), ("az_name", "Availability Zone"))
LONG_COLUMNS = (*COLUMNS, ("pod_az_name", "Pod Availability Zone"), ("dc_name", "Data Center"),
                ("created_at", "Created At"), ("updated_at", "Updated At"))
# (argparse dest, API field) of the options ``pod set`` may change.
UPDATABLE = (("data_center", "dc_name"), ("pod_availability_zone", "pod_az_name"))


def _add_pod_argument(parser: argparse.ArgumentParser, help_text: str, *, many: bool = False) -> None:
    parser.add_argument("pod", metavar="<pod>", nargs="+" if many else None, help=help_text)


class CreatePod(command.ShowOne):
    """Create a pod: register a region (the one with no availability zone is the central one)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--region-name", metavar="<region-name>", required=True,
                            help="Region name registered in Keystone")
        parser.add_argument("--availability-zone", metavar="<az-name>",
                            help="Availability zone the region serves (omit for the central region)")
        parser.add_argument("--pod-availability-zone", metavar="<pod-az-name>",
                            help="Availability zone forwarded to the region's local Neutron")
        parser.add_argument("--data-center", metavar="<dc-name>", help="Name of the data center")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        fields = changes(parsed_args, (("region_name", "region_name"), ("availability_zone", "az_name"),
                                       ("pod_availability_zone", "pod_az_name"), ("data_center", "dc_name")))
        return one(admin_client(self).create_pod(fields))


class ListPods(command.Lister):
    """List pods."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--long", action="store_true", default=False, help="List additional fields in output")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        return listing(LONG_COLUMNS if parsed_args.long else COLUMNS, admin_client(self).list_pods())


class ShowPod(command.ShowOne):
    """Display pod details."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _add_pod_argument(parser, "Pod to display (ID or region name)")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        return one(admin_client(self).find_pod(parsed_args.pod))


class SetPod(command.Command):
    """Set pod properties (data center, pod availability zone; region and AZ cannot change)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--data-center", metavar="<dc-name>", help="New data center name")
        parser.add_argument("--pod-availability-zone", metavar="<pod-az-name>",
                            help="New availability zone forwarded to the region's local Neutron")
        _add_pod_argument(parser, "Pod to modify (ID or region name)")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        client = admin_client(self)
        pod = client.find_pod(parsed_args.pod)
        client.update_pod(str(pod["pod_id"]), changes(parsed_args, UPDATABLE))


class DeletePod(command.Command):
    """Delete pod(s)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _add_pod_argument(parser, "Pod(s) to delete (ID or region name)", many=True)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        client = admin_client(self)

        def delete(ref: str) -> None:
            client.delete_pod(str(client.find_pod(ref)["pod_id"]))

        for_each(parsed_args.pod, "pods", "delete", delete)
