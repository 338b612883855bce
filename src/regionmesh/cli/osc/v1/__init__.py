"""Commands of the Admin API v1.0 (``openstack.multiregion_networking.v1``), and what they share."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from osc_lib.cli import format_columns
from osc_lib.command import command

from regionmesh.cli.osc.client import AdminAPIError, AdminClient
from regionmesh.cli.osc.plugin import API_NAME

LOG = logging.getLogger(__name__)

# (field, column header) of a listing.
Columns = Sequence[tuple[str, str]]


def admin_client(cmd: command.Command) -> AdminClient:
    """The plugin's client from OSC's client manager (built by ``plugin.make_client`` on first use)."""
    return cast(AdminClient, getattr(cmd.app.client_manager, API_NAME))


def formatted(value: Any) -> Any:
    """Dicts and lists shown readably in tables and kept structured in JSON/YAML."""
    if isinstance(value, dict):
        return format_columns.DictColumn(value)
    if isinstance(value, list):
        return format_columns.ListColumn(value)
    return value


def listing(columns: Columns, items: Iterable[dict[str, Any]]) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """A Lister's (headers, rows) from items and (field, header) pairs."""
    headers = tuple(header for _, header in columns)
    return headers, [tuple(formatted(item.get(field)) for field, _ in columns) for item in items]


def one(item: dict[str, Any]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """A ShowOne's (fields, values), fields sorted as OSC does."""
    keys = tuple(sorted(item))
    return keys, tuple(formatted(item[k]) for k in keys)


def changes(parsed_args: Any, options: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Body fields for the options given on the command line: (argparse dest, API field) pairs."""
    out: dict[str, Any] = {}
    for dest, field in options:
        value = getattr(parsed_args, dest, None)
        if value is not None:
            out[field] = value
    return out


def for_each(refs: Sequence[str], what: str, verb: str, act: Callable[[str], None]) -> None:
    """Run ``act`` on every ref; report each failure, then fail once (the one error itself if alone)."""
    failures: list[AdminAPIError] = []
    for ref in refs:
        try:
            act(ref)
        except AdminAPIError as error:
            if len(refs) == 1:
                raise
            LOG.error("%s", error)
            failures.append(error)
    if failures:
        raise AdminAPIError(f"{len(failures)} of {len(refs)} {what} failed to {verb}; see the errors above.",
                            failures[0].status)
