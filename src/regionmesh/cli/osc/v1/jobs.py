"""``openstack multiregion networking job create|list|show|delete|redo``: asynchronous jobs.

A job's ``resource`` is shown expanded into top-level fields (``router_id``, ``pod_id``, …) as
python-tricircleclient showed it. ``job create`` takes the resource keys its type needs (the
server's ``GET /jobs/schemas``) from the resource options; ``seg_rule_setup`` and
``resource_recycle`` take their ``project_id`` from ``--project-id``.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from osc_lib.command import command

from regionmesh.cli.osc.client import AdminAPIError
from regionmesh.cli.osc.v1 import admin_client, changes, for_each, listing, one

LOG = logging.getLogger(__name__)

COLUMNS = (("id", "ID"), ("project_id", "Project ID"), ("type", "Type"), ("status", "Status"),
           ("timestamp", "Timestamp"))
LONG_COLUMNS = (*COLUMNS, ("resource", "Resource"), ("attempts", "Attempts"), ("last_error", "Last Error"),
                ("next_attempt_at", "Next Attempt At"), ("waiting_on", "Waiting On"))
STATUSES = ("new", "running", "success", "fail")
FILTERS = (("project_id", "project_id"), ("type", "type"), ("status", "status"))
# Resource keys a job may need, each an option (the anchor's seven, plus the QoS jobs' keys).
RESOURCE_KEYS = ("router_id", "network_id", "pod_id", "port_id", "trunk_id", "subnet_id", "portchain_id",
                 "policy_id", "res_type", "res_id")
RESOURCE_HELP = {"router_id": "ID of a router", "network_id": "ID of a network", "pod_id": "ID of a pod",
                 "port_id": "ID of a port", "trunk_id": "ID of a trunk", "subnet_id": "ID of a subnet",
                 "portchain_id": "ID of a port chain", "policy_id": "ID of a QoS policy",
                 "res_type": "Type of the resource a QoS policy is bound to (network or port)",
                 "res_id": "ID of the resource a QoS policy is bound to"}


def option_name(key: str) -> str:
    return "--" + key.replace("_", "-")


def expand(job: dict[str, Any]) -> dict[str, Any]:
    """The job with its resource keys as fields, as the anchor's client showed it."""
    out = {k: v for k, v in job.items() if k != "resource"}
    resource = job.get("resource")
    if not isinstance(resource, dict):
        return dict(job)
    for key, value in resource.items():
        if key in out and out[key] != value:
            out[f"resource_{key}"] = value
        else:
            out[key] = value
    return out


def job_resource(job_type: str, keys: list[str], parsed_args: argparse.Namespace) -> dict[str, Any]:
    """The resource of a new job from the options; a clear error naming what the type needs."""
    resource: dict[str, Any] = {}
    missing: list[str] = []
    for key in keys:
        value = parsed_args.project_id if key == "project_id" else getattr(parsed_args, key, None)
        if value is None:
            missing.append(option_name(key))
        else:
            resource[key] = value
    if missing:
        needs = " ".join(option_name(k) for k in keys)
        raise AdminAPIError(f"Job type {job_type} needs {needs}; missing: {' '.join(missing)}.")
    ignored = [option_name(k) for k in RESOURCE_KEYS if k not in keys and getattr(parsed_args, k, None) is not None]
    if ignored:
        LOG.warning("Job type %s does not use %s; ignored.", job_type, ", ".join(ignored))
    return resource


def _add_job_argument(parser: argparse.ArgumentParser, help_text: str, *, many: bool = False) -> None:
    parser.add_argument("job", metavar="<job>", nargs="+" if many else None, help=help_text)


class CreateJob(command.ShowOne):
    """Create a job (queued; its status says when a worker has run it)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--type", metavar="<type>", required=True,
                            help="Job type (e.g. router_setup, seg_rule_setup; see the Admin API's /jobs/schemas)")
        # The anchor spelt these with underscores; both spellings are accepted.
        parser.add_argument("--project-id", "--project_id", dest="project_id", metavar="<project-id>",
                            required=True, help="ID of the project the job works for")
        for key in RESOURCE_KEYS:
            parser.add_argument(option_name(key), "--" + key, dest=key, metavar=f"<{key.replace('_', '-')}>",
                                help=RESOURCE_HELP[key])
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        client = admin_client(self)
        try:
            schemas = client.job_schemas(action="create the job")
        except AdminAPIError as error:
            if error.status != 403:
                raise
            # Not allowed to read the types: send what was given and let the server judge the job.
            given = {k: getattr(parsed_args, k) for k in RESOURCE_KEYS if getattr(parsed_args, k) is not None}
            resource = given or {"project_id": parsed_args.project_id}
        else:
            if parsed_args.type not in schemas:
                raise AdminAPIError(f"There is no job type {parsed_args.type!r}; the types are: "
                                    f"{', '.join(sorted(schemas))}.")
            resource = job_resource(parsed_args.type, schemas[parsed_args.type], parsed_args)
        return one(expand(client.create_job(parsed_args.type, parsed_args.project_id, resource)))


class ListJobs(command.Lister):
    """List jobs, most recently changed first (all pages unless --limit is given)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--limit", metavar="<num-jobs>", type=int, help="Maximum number of jobs to return")
        parser.add_argument("--marker", metavar="<job>",
                            help="ID of the last job of the previous page; list the ones after it")
        parser.add_argument("--project-id", metavar="<project-id>", help="Only jobs of this project")
        parser.add_argument("--type", metavar="<type>", help="Only jobs of this type")
        parser.add_argument("--status", metavar="<status>", type=str.lower, choices=STATUSES,
                            help="Only jobs in this status: " + ", ".join(STATUSES) + " (case-insensitive)")
        parser.add_argument("--long", action="store_true", default=False, help="List additional fields in output")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        items = admin_client(self).list_jobs(changes(parsed_args, FILTERS), limit=parsed_args.limit,
                                             marker=parsed_args.marker)
        return listing(LONG_COLUMNS if parsed_args.long else COLUMNS, items)


class ShowJob(command.ShowOne):
    """Display job details (a job, or one run from the job log)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _add_job_argument(parser, "ID of the job to display")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        return one(expand(admin_client(self).get_job(parsed_args.job)))


class RedoJob(command.ShowOne):
    """Run a job again now (unless it is running); shows the job as requeued."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _add_job_argument(parser, "ID of the job to redo")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        job = admin_client(self).redo_job(parsed_args.job)
        return one(expand(job)) if job else ((), ())


class DeleteJob(command.Command):
    """Delete job(s) (their run history stays in the job log)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _add_job_argument(parser, "ID(s) of the job(s) to delete", many=True)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        for_each(parsed_args.job, "jobs", "delete", admin_client(self).delete_job)
