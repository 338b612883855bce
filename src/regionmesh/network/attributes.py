"""Resource definitions as data: Neutron-style attribute maps.

An :class:`Attr` says how one attribute behaves on POST, PUT, GET and in filters; a
:class:`ResourceDef` gathers them for one collection. Validation, defaults, unknown-attribute
rejection, attribute-level policy, filters, sort keys and response visibility are all derived
from these maps — nothing about them is hand-written per endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import regionmesh.network.validators as v
from regionmesh.network.exceptions import BadRequest, HTTPBadRequest


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
# Filled by the service from context or other attributes, not by the attribute map.
ATTR_NOT_SPECIFIED: Any = object()

Converter = Callable[[Any], Any]


@dataclass(frozen=True)
class Attr:
    """One attribute of a resource, with Neutron's attribute-map semantics."""

    allow_post: bool = False
    allow_put: bool = False
    default: Any = MISSING
    validate: tuple[str, Any] | None = None
    convert_to: Converter | None = None
    is_visible: bool = True
    is_filter: bool = False
    is_sort_key: bool = False
    enforce_policy: bool = False
    required_by_policy: bool = False
    # Filters use this converter on query-string values (defaults to ``convert_to``).
    filter_convert: Converter | None = None

    @property
    def required_on_post(self) -> bool:
        return self.allow_post and self.default is MISSING


@dataclass(frozen=True)
class ResourceDef:
    """A collection's attribute map plus the facts the API needs about it."""

    collection: str
    member: str
    attrs: Mapping[str, Attr]
    allow_bulk: bool = True
    # Name used for quota accounting (``None``: not counted).
    quota_resource: str | None = None
    # Tag API resource-type name (``None``: no tags).
    taggable: bool = True
    # Extra non-attribute filters accepted by the collection (e.g. ``fixed_ips``).
    extra_filters: frozenset[str] = field(default_factory=frozenset)

    @property
    def policy_resource(self) -> str:
        return self.member

    def visible_names(self) -> list[str]:
        return [name for name, attr in self.attrs.items() if attr.is_visible]

    def filter_names(self) -> set[str]:
        return {name for name, attr in self.attrs.items() if attr.is_filter} | set(self.extra_filters)

    def sort_keys(self) -> set[str]:
        return {name for name, attr in self.attrs.items() if attr.is_sort_key}


def _run_validator(name: str, attr_name: str, attr: Attr, value: Any) -> None:
    if attr.validate is None:
        return
    vname, spec = attr.validate
    fn = v.VALIDATORS[vname]
    msg = fn(value, spec)
    if msg:
        raise HTTPBadRequest(f"Invalid input for {attr_name}. Reason: {msg}.")


def _convert(attr_name: str, attr: Attr, value: Any) -> Any:
    """Converter errors reach the client as they are (Neutron's ``InvalidInput`` and friends)."""
    if attr.convert_to is None:
        return value
    return attr.convert_to(value)


def check_known(rdef: ResourceDef, body: Mapping[str, Any]) -> None:
    """Unknown attributes are rejected with Neutron's message (no silent ignore)."""
    unknown = [k for k in body if k not in rdef.attrs]
    if unknown:
        raise HTTPBadRequest(f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'")


def prepare_post(rdef: ResourceDef, body: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a POST item and fill defaults; returns the full item (``explicit`` keys recorded)."""
    if not isinstance(body, Mapping):
        raise BadRequest(resource=rdef.member, msg="Body contains invalid data")
    check_known(rdef, body)
    item: dict[str, Any] = {}
    for name, attr in rdef.attrs.items():
        if name in body:
            if not attr.allow_post:
                raise HTTPBadRequest(f"Attribute '{name}' not allowed in POST")
            value = _convert(name, attr, body[name])
            _run_validator(rdef.member, name, attr, value)
            item[name] = value
        elif attr.allow_post:
            if attr.default is MISSING:
                raise HTTPBadRequest(f"Failed to parse request. Required attribute '{name}' not specified")
            item[name] = attr.default() if callable(attr.default) else attr.default
    return item


def prepare_put(rdef: ResourceDef, body: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a PUT body: only ``allow_put`` attributes, converted and validated."""
    if not isinstance(body, Mapping):
        raise BadRequest(resource=rdef.member, msg="Body contains invalid data")
    check_known(rdef, body)
    out: dict[str, Any] = {}
    for name, value in body.items():
        attr = rdef.attrs[name]
        if not attr.allow_put:
            raise HTTPBadRequest(f"Cannot update read-only attribute {name}")
        value = _convert(name, attr, value)
        _run_validator(rdef.member, name, attr, value)
        out[name] = value
    return out


def explicit_policy_attrs(rdef: ResourceDef, body: Mapping[str, Any]) -> list[str]:
    """Attributes set in a request body that carry their own policy rule."""
    return [name for name in body if name in rdef.attrs and rdef.attrs[name].enforce_policy]
