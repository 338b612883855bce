"""Neutron's list conventions on SQL: filters, fields, sorting and keyset pagination.

Pagination never loads a whole collection: the marker row's sort values become a keyset
condition and the database returns ``limit + 1`` rows, the extra one telling whether a next page
exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Select, and_, false, or_, select
from sqlalchemy.sql.elements import ColumnElement

from regionmesh.network.attributes import ResourceDef
from regionmesh.network.exceptions import BadRequest, InvalidInput

RESERVED = {"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse",
            "tags", "tags-any", "not-tags", "not-tags-any", "verbose"}


@dataclass
class ListParams:
    """A parsed list query."""

    filters: dict[str, list[str]] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)
    sorts: list[tuple[str, bool]] = field(default_factory=list)  # (key, ascending)
    limit: int | None = None
    marker: str | None = None
    page_reverse: bool = False
    tags: list[str] = field(default_factory=list)
    tags_any: list[str] = field(default_factory=list)
    not_tags: list[str] = field(default_factory=list)
    not_tags_any: list[str] = field(default_factory=list)


def _split_tags(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        out.extend(t for t in value.split(",") if t)
    return out


def _bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise InvalidInput(error_message=f"'{value}' cannot be converted to boolean")


def parse_list_params(rdef: ResourceDef, items: Sequence[tuple[str, str]], max_limit: int) -> ListParams:
    """Turn query-string pairs into :class:`ListParams`, rejecting unknown filters and sort keys."""
    params = ListParams()
    multi: dict[str, list[str]] = {}
    for key, value in items:
        multi.setdefault(key, []).append(value)
    allowed = rdef.filter_names()
    for key, values in multi.items():
        if key in RESERVED:
            continue
        if key not in allowed:
            raise BadRequest(resource=rdef.member, msg=f"{key} is an invalid filter")
        params.filters[key] = values
    params.fields = [f for v in multi.get("fields", []) for f in v.split(",") if f]
    keys = multi.get("sort_key", [])
    dirs = multi.get("sort_dir", [])
    if dirs and len(dirs) != len(keys):
        raise BadRequest(resource=rdef.member, msg="The number of sort_keys and sort_dirs must be same")
    sortable = rdef.sort_keys()
    for i, key in enumerate(keys):
        if key not in sortable:
            raise BadRequest(resource=rdef.member,
                             msg=f"{key} is invalid attribute for sort_keys")
        direction = dirs[i] if dirs else "asc"
        if direction not in ("asc", "desc"):
            raise BadRequest(resource=rdef.member,
                             msg=f"{direction} is invalid value for sort_dirs, valid value is 'asc' and 'desc'")
        params.sorts.append((key, direction == "asc"))
    if "limit" in multi:
        raw = multi["limit"][-1]
        try:
            limit = int(raw)
        except ValueError:
            raise BadRequest(resource="limit", msg=f"'{raw}' is not an integer") from None
        if limit < 0:
            raise BadRequest(resource="limit", msg=f"Limit must be an integer 0 or greater and not '{raw}'")
        params.limit = min(limit, max_limit) if limit else max_limit
    if "marker" in multi:
        params.marker = multi["marker"][-1]
        if params.limit is None:
            params.limit = max_limit
    if "page_reverse" in multi:
        params.page_reverse = _bool(multi["page_reverse"][-1])
    params.tags = _split_tags(multi.get("tags", []))
    params.tags_any = _split_tags(multi.get("tags-any", []))
    params.not_tags = _split_tags(multi.get("not-tags", []))
    params.not_tags_any = _split_tags(multi.get("not-tags-any", []))
    return params


FilterHook = Callable[[list[str]], ColumnElement[bool]]


@dataclass
class ColumnMap:
    """How one collection's API attributes map onto SQL."""

    table: Any
    columns: Mapping[str, Any]                 # api name -> column
    converters: Mapping[str, Callable[[str], Any]] = field(default_factory=dict)
    hooks: Mapping[str, FilterHook] = field(default_factory=dict)  # filters that are not columns
    tag_type: str | None = None


def _convert_filter(cmap: ColumnMap, name: str, value: str) -> Any:
    conv = cmap.converters.get(name)
    if conv is not None:
        try:
            return conv(value)
        except (ValueError, InvalidInput) as exc:
            raise BadRequest(resource="filter", msg=f"Invalid value '{value}' for filter {name}: {exc}") from None
    return value


def filter_clauses(cmap: ColumnMap, params: ListParams) -> list[ColumnElement[bool]]:
    from regionmesh.db.models import tags as tags_table  # local: tags are a shared table

    clauses: list[ColumnElement[bool]] = []
    for name, values in params.filters.items():
        if name in cmap.hooks:
            clauses.append(cmap.hooks[name](values))
            continue
        column = cmap.columns.get(name)
        if column is None:
            # A filterable attribute that has no column (computed) matches nothing it cannot know.
            clauses.append(false())
            continue
        converted = [_convert_filter(cmap, name, v) for v in values]
        none_vals = [v for v in converted if v is None]
        real = [v for v in converted if v is not None]
        ors: list[ColumnElement[bool]] = []
        if real:
            ors.append(column == real[0] if len(real) == 1 else column.in_(real))
        if none_vals:
            ors.append(column.is_(None))
        clauses.append(or_(*ors) if len(ors) > 1 else ors[0])
    if cmap.tag_type and (params.tags or params.tags_any or params.not_tags or params.not_tags_any):
        idcol = cmap.columns["id"]

        def tagged(tag: str) -> ColumnElement[bool]:
            return idcol.in_(select(tags_table.c.resource_id).where(
                tags_table.c.resource_type == cmap.tag_type, tags_table.c.tag == tag))

        for tag in params.tags:
            clauses.append(tagged(tag))
        if params.tags_any:
            clauses.append(or_(*[tagged(t) for t in params.tags_any]))
        if params.not_tags:
            clauses.append(~and_(*[tagged(t) for t in params.not_tags]))
        for tag in params.not_tags_any:
            clauses.append(~tagged(tag))
    return clauses


def paged_select(conn: Connection, cmap: ColumnMap, params: ListParams,
                 base: Select[Any], resource: str) -> tuple[list[Any], bool]:
    """Apply sorting and keyset pagination to ``base``; returns (rows, has_more)."""
    idcol = cmap.columns["id"]
    sorts = [(cmap.columns[k], asc) for k, asc in params.sorts if k in cmap.columns]
    if not any(col is idcol for col, _ in sorts):
        sorts.append((idcol, True))
    effective = [(col, asc != params.page_reverse) for col, asc in sorts]
    stmt = base
    if params.marker is not None:
        marker_row = conn.execute(select(*[c for c, _ in effective]).where(idcol == params.marker)).first()
        if marker_row is None:
            raise BadRequest(resource=resource, msg=f"Marker {params.marker} could not be found")
        ors: list[ColumnElement[bool]] = []
        for i, (col, asc) in enumerate(effective):
            eqs = [effective[j][0] == marker_row[j] for j in range(i)]
            value = marker_row[i]
            if value is None:
                # NULLs sort first ascending: everything non-null comes after a NULL marker.
                cmp = col.is_not(None) if asc else false()
            else:
                cmp = col > value if asc else or_(col < value, col.is_(None))
            ors.append(and_(*eqs, cmp) if eqs else cmp)
        stmt = stmt.where(or_(*ors))
    for col, asc in effective:
        stmt = stmt.order_by(col.asc().nulls_first() if asc else col.desc().nulls_last())
    if params.limit:
        stmt = stmt.limit(params.limit + 1)
    rows = list(conn.execute(stmt))
    has_more = bool(params.limit) and len(rows) > (params.limit or 0)
    if has_more:
        rows = rows[: params.limit]
    if params.page_reverse:
        rows.reverse()
    return rows, has_more
