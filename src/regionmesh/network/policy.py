"""Neutron's policy engine without oslo: rule language, secure-RBAC defaults, ``policy.yaml`` overrides.

Why not oslo.policy: it drags oslo.config/oslo.context in and fails *open* on ``None`` (an unscoped
caller matches ``project_id:%(project_id)s`` against a project-less target, both being ``"None"``).
The language below is oslo.policy's, so an operator's existing ``policy.yaml`` works unchanged:

* ``@`` / ``""`` always pass, ``!`` never passes;
* ``role:<name>`` (case-insensitive; Keystone's implied roles admin → manager → member → reader are
  expanded, so a noauth ``member`` context behaves like a real token);
* ``rule:<name>`` refers to another rule (unknown names and cycles are rejected at start-up);
* ``field:<collection>:<attr>=<value>`` is Neutron's field check (``~regex`` values match by regex,
  ``True``/``False`` compare as booleans); when the target lacks ``<attr>`` the parent's
  ``<member>:<attr>`` is used, so ``field:networks:shared=True`` works for subnets and ports whose
  target carries ``network:shared``;
* anything else is oslo's generic check ``<creds path>:<template>``: ``%(key)s`` is taken from the
  target (``project_id:%(project_id)s``, ``tenant_id:%(network:tenant_id)s``), the left side from
  the credentials (``is_admin:True``, ``system_scope:all``); a literal left side compares two
  literals (``True:%(network:shared)s``). A missing, ``None`` or ``""`` value is *no match*.
  ``*tenant_id`` and ``*project_id`` target keys stand in for each other;
* ``and``, ``or``, ``not`` (case-insensitive) and parentheses, with ``not`` > ``and`` > ``or``.

Targets the integrator builds (keys the defaults read): every resource: ``project_id``/``tenant_id``;
network: ``shared``, ``router:external``; subnet and port: ``network:tenant_id`` (the network owner) and
``network:shared``; port: ``device_owner``; security group: ``shared``; security group rule:
``security_group:tenant_id``; router interface actions: the router; quota actions: ``project_id`` of
the quota's project (``{}`` for the all-projects list, so only admins pass).

Tags use Neutron's newest attribute-style names, ``<get|create|update|delete>_<member>:tags`` (e.g.
``update_network:tags`` for ``PUT /networks/{id}/tags``); they default to ``rule:get_<member>`` for reads
and ``rule:update_<member>`` for writes, so overriding the parent rule moves its tags along.

Deviations from Neutron, on purpose: an action without a rule falls back to ``default``, which is
``rule:admin_only`` (not the legacy ``admin_or_owner``); ``get_quota``/``get_quota_default`` let a
project reader read its own quota (Neutron skips policy for one's own project instead); token scope
types are not enforced (every default is project-scoped, and system-scope admins still need the
admin role).
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import yaml

from regionmesh.context import RequestContext
from regionmesh.network.exceptions import PolicyNotAuthorized

__all__ = [
    "DEFAULT_RULES",
    "RULE_DEFAULTS",
    "Enforcer",
    "PolicyError",
    "PolicyFileError",
    "PolicySyntaxError",
    "RuleDefault",
    "default_enforcer",
    "load_enforcer",
    "parse_rule",
]


# ---- errors -----------------------------------------------------------------------------------
class PolicyError(Exception):
    """A policy configuration problem, raised at start-up rather than on a request."""


class PolicyFileError(PolicyError):
    """The policy file is missing, unreadable, or not a mapping of rule names to strings."""


class PolicySyntaxError(PolicyError):
    """A check string does not parse; the message names the rule, its source and the bad token."""

    def __init__(self, rule: str, check_str: str, reason: str, source: str | None = None) -> None:
        self.rule = rule
        self.check_str = check_str
        self.reason = reason
        self.source = source
        where = f" in {source}" if source else ""
        super().__init__(f"policy rule '{rule}'{where} is malformed: {reason} (rule text: {check_str!r})")


class _RawSyntaxError(Exception):
    """Parse failure before the rule name is known (the parse cache is keyed by text only)."""


# ---- credentials ------------------------------------------------------------------------------
_IMPLIED_ROLES: Final[Mapping[str, frozenset[str]]] = MappingProxyType({
    "admin": frozenset({"manager", "member", "reader"}),
    "manager": frozenset({"member", "reader"}),
    "member": frozenset({"reader"}),
})


def _expand_roles(roles: frozenset[str]) -> frozenset[str]:
    """Lower-case roles plus Keystone's default implications (tokens carry them; noauth does not)."""
    out = {r.lower() for r in roles}
    for role in list(out):
        out |= _IMPLIED_ROLES.get(role, frozenset())
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class _Creds:
    values: Mapping[str, Any]
    roles: frozenset[str]


# ---- checks -----------------------------------------------------------------------------------
_KEY_RE: Final = re.compile(r"%\(([^)]*)\)s")


def _alias(key: str) -> str | None:
    """``network:tenant_id`` ↔ ``network:project_id``: Neutron targets carry both, ours may carry one."""
    if key.endswith("tenant_id"):
        return key[: -len("tenant_id")] + "project_id"
    if key.endswith("project_id"):
        return key[: -len("project_id")] + "tenant_id"
    return None


def _lookup(target: Mapping[str, Any], key: str, alias: str | None) -> Any:
    """The target's value for ``key``; ``None`` and ``""`` count as absent (never an owner)."""
    value = target.get(key)
    if (value is None or value == "") and alias is not None:
        value = target.get(alias)
    return None if value == "" else value


class _Template:
    """A match string with ``%(key)s`` holes, filled from the target; ``None`` when a key is absent."""

    __slots__ = ("_parts", "_single", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        parts: list[tuple[str, str | None]] = []  # (literal, None) or (key, alias)
        pos = 0
        for m in _KEY_RE.finditer(text):
            if m.start() > pos:
                parts.append((text[pos:m.start()], None))
            key = m.group(1)
            if not key:
                raise _RawSyntaxError(f"empty target key '%()s' in '{text}'")
            parts.append((key, _alias(key) or ""))
            pos = m.end()
        if pos < len(text):
            parts.append((text[pos:], None))
        self._parts = tuple(parts)
        self._single = parts[0] if len(parts) == 1 and parts[0][1] is not None else None

    @property
    def is_literal(self) -> bool:
        return all(alias is None for _, alias in self._parts)

    def render(self, target: Mapping[str, Any]) -> str | None:
        if self._single is not None:
            key, alias = self._single
            value = _lookup(target, key, alias or None)
            return None if value is None else str(value)
        out: list[str] = []
        for text, alias in self._parts:
            if alias is None:
                out.append(text)
                continue
            value = _lookup(target, text, alias or None)
            if value is None:
                return None
            out.append(str(value))
        return "".join(out)


class _Check:
    """A node of a compiled rule; immutable, so compiled trees are shared between rules."""

    __slots__ = ()

    def __call__(self, target: Mapping[str, Any], creds: _Creds, rules: Mapping[str, _Check]) -> bool:
        raise NotImplementedError

    def refs(self) -> Iterator[str]:
        """Names of the rules this check refers to (for start-up validation)."""
        return iter(())


class _Always(_Check):
    __slots__ = ("_result",)

    def __init__(self, result: bool) -> None:
        self._result = result

    def __call__(self, target: Mapping[str, Any], creds: _Creds, rules: Mapping[str, _Check]) -> bool:
        return self._result

    def __str__(self) -> str:
        return "@" if self._result else "!"


_TRUE: Final = _Always(True)
_FALSE: Final = _Always(False)


class _Not(_Check):
    __slots__ = ("_rule",)

    def __init__(self, rule: _Check) -> None:
        self._rule = rule

    def __call__(self, target: Mapping[str, Any], creds: _Creds, rules: Mapping[str, _Check]) -> bool:
        return not self._rule(target, creds, rules)

    def refs(self) -> Iterator[str]:
        return self._rule.refs()

    def __str__(self) -> str:
        return f"not {self._rule}"


class _And(_Check):
    __slots__ = ("_rules",)

    def __init__(self, rules: Sequence[_Check]) -> None:
        self._rules = tuple(rules)

    def __call__(self, target: Mapping[str, Any], creds: _Creds, rules: Mapping[str, _Check]) -> bool:
        return all(r(target, creds, rules) for r in self._rules)

    def refs(self) -> Iterator[str]:
        for r in self._rules:
            yield from r.refs()

    def __str__(self) -> str:
        return "(" + " and ".join(str(r) for r in self._rules) + ")"


class _Or(_Check):
    __slots__ = ("_rules",)

    def __init__(self, rules: Sequence[_Check]) -> None:
        self._rules = tuple(rules)

    def __call__(self, target: Mapping[str, Any], creds: _Creds, rules: Mapping[str, _Check]) -> bool:
        return any(r(target, creds, rules) for r in self._rules)

    def refs(self) -> Iterator[str]:
        for r in self._rules:
            yield from r.refs()

    def __str__(self) -> str:
        return "(" + " or ".join(str(r) for r in self._rules) + ")"


class _RuleRef(_Check):
    """``rule:<name>``, resolved at evaluation time so an override of a base rule reaches every user."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, target: Mapping[str, Any], creds: _Creds, rules: Mapping[str, _Check]) -> bool:
        rule = rules.get(self.name)
        return rule is not None and rule(target, creds, rules)

    def refs(self) -> Iterator[str]:
        yield self.name

    def __str__(self) -> str:
        return f"rule:{self.name}"


class _Role(_Check):
    __slots__ = ("_role", "_template")

    def __init__(self, match: str) -> None:
        template = _Template(match)
        self._template = None if template.is_literal else template
        self._role = match.lower()

    def __call__(self, target: Mapping[str, Any], creds: _Creds, rules: Mapping[str, _Check]) -> bool:
        if self._template is None:
            return self._role in creds.roles
        role = self._template.render(target)
        return role is not None and role.lower() in creds.roles

    def __str__(self) -> str:
        return f"role:{self._role if self._template is None else self._template.text}"


def _matches(value: Any, expected: str) -> bool:
    if value is None:
        return False
    if isinstance(value, list | tuple | set | frozenset):
        return any(_matches(v, expected) for v in value)
    return str(value) == expected


class _Generic(_Check):
    """oslo's generic check: credentials (or a literal) on the left, a target template on the right."""

    __slots__ = ("_kind", "_literal", "_path", "_template")

    def __init__(self, kind: str, match: str) -> None:
        self._kind = kind
        self._template = _Template(match)
        self._literal: str | None = None
        try:
            self._literal = str(ast.literal_eval(kind))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            self._literal = None
        self._path = tuple(kind.split("."))

    def __call__(self, target: Mapping[str, Any], creds: _Creds, rules: Mapping[str, _Check]) -> bool:
        expected = self._template.render(target)
        if expected is None:
            return False
        if self._literal is not None:
            return expected == self._literal
        value: Any = creds.values
        for segment in self._path:
            if not isinstance(value, Mapping) or segment not in value:
                return False
            value = value[segment]
        return _matches(value, expected)

    def __str__(self) -> str:
        return f"{self._kind}:{self._template.text}"


_TRUE_WORDS: Final = frozenset({"true", "1", "yes", "on"})
_FALSE_WORDS: Final = frozenset({"false", "0", "no", "off"})


class _Field(_Check):
    """Neutron's ``field:<collection>:<attr>=<value>`` check on the target's own attribute values."""

    __slots__ = ("_bool", "_keys", "_regex", "_text", "_value")

    def __init__(self, match: str) -> None:
        resource, _, rest = match.partition(":")
        field, eq, value = rest.partition("=")
        if not resource or not field or not eq:
            raise _RawSyntaxError(f"'field:{match}' must look like field:<collection>:<attribute>=<value>")
        member = resource[:-1] if resource.endswith("s") else resource
        self._keys = (field, f"{member}:{field}")
        self._text = match
        self._value = value
        self._regex: re.Pattern[str] | None = None
        if value.startswith("~"):
            try:
                self._regex = re.compile(value[1:])
            except re.error as e:
                raise _RawSyntaxError(f"bad regular expression in 'field:{match}': {e}") from None
        lowered = value.lower()
        self._bool = True if lowered in _TRUE_WORDS else False if lowered in _FALSE_WORDS else None

    def __call__(self, target: Mapping[str, Any], creds: _Creds, rules: Mapping[str, _Check]) -> bool:
        own, parent = self._keys
        actual = target[own] if own in target else target.get(parent)
        if actual is None:
            return False
        if self._regex is not None:
            return isinstance(actual, str) and self._regex.match(actual) is not None
        if isinstance(actual, bool) and self._bool is not None:
            return actual is self._bool
        return str(actual) == self._value

    def __str__(self) -> str:
        return f"field:{self._text}"


# ---- parser -----------------------------------------------------------------------------------
_KEYWORDS: Final = frozenset({"and", "or", "not"})
_BAD_KIND_RE: Final = re.compile(r"[()%\s]")


def _parse_check(token: str) -> _Check:
    if token == "@":
        return _TRUE
    if token == "!":
        return _FALSE
    kind, colon, match = token.partition(":")
    if not colon or not kind:
        raise _RawSyntaxError(f"'{token}' is not a check (expected <kind>:<match>, '@' or '!')")
    if _BAD_KIND_RE.search(kind):
        raise _RawSyntaxError(f"'{token}': the left side of a check is never filled from the target; "
                              "put the target key on the right, e.g. 'True:%(network:shared)s'")
    if not match:
        raise _RawSyntaxError(f"'{token}' has nothing after ':'")
    if kind == "rule":
        return _RuleRef(match)
    if kind == "role":
        return _Role(match)
    if kind == "field":
        return _Field(match)
    if kind == "http" or kind == "https":
        raise _RawSyntaxError(f"'{token}': remote http checks are not supported")
    return _Generic(kind, match)


def _tokenize(text: str) -> list[str]:
    """Split like oslo.policy: on whitespace, with leading '(' and trailing ')' as their own tokens."""
    tokens: list[str] = []
    for chunk in text.split():
        clean = chunk.lstrip("(")
        tokens.extend("(" * (len(chunk) - len(clean)))
        if not clean:
            continue
        core = clean.rstrip(")")
        if core:
            tokens.append(core.lower() if core.lower() in _KEYWORDS else core)
        tokens.extend(")" * (len(clean) - len(core)))
    return tokens


class _Parser:
    """Recursive descent: or_expr := and_expr ('or' and_expr)*; and_expr := unary ('and' unary)*."""

    def __init__(self, tokens: list[str]) -> None:
        self._tokens = tokens
        self._pos = 0

    def _peek(self) -> str | None:
        return self._tokens[self._pos] if self._pos < len(self._tokens) else None

    def _where(self) -> str:
        return f"token {self._pos + 1}" if self._pos < len(self._tokens) else "end of rule"

    def parse(self) -> _Check:
        result = self._or()
        if self._pos != len(self._tokens):
            raise _RawSyntaxError(f"unexpected '{self._tokens[self._pos]}' at {self._where()}")
        return result

    def _or(self) -> _Check:
        items = [self._and()]
        while self._peek() == "or":
            self._pos += 1
            items.append(self._and())
        return items[0] if len(items) == 1 else _Or(items)

    def _and(self) -> _Check:
        items = [self._unary()]
        while self._peek() == "and":
            self._pos += 1
            items.append(self._unary())
        return items[0] if len(items) == 1 else _And(items)

    def _unary(self) -> _Check:
        tok = self._peek()
        if tok is None:
            raise _RawSyntaxError("rule ends where a check was expected")
        if tok == "not":
            self._pos += 1
            return _Not(self._unary())
        if tok == "(":
            self._pos += 1
            inner = self._or()
            if self._peek() != ")":
                raise _RawSyntaxError(f"missing ')' at {self._where()}")
            self._pos += 1
            return inner
        if tok in ("and", "or", ")"):
            raise _RawSyntaxError(f"expected a check but found '{tok}' at {self._where()}")
        self._pos += 1
        return _parse_check(tok)


@functools.lru_cache(maxsize=4096)
def _compile(text: str) -> _Check:
    """Parse a check string once; identical strings (very common in the defaults) share one tree."""
    tokens = _tokenize(text)
    if not tokens:
        return _TRUE
    return _Parser(tokens).parse()


def parse_rule(check_str: str, name: str = "<rule>", source: str | None = None) -> _Check:
    """Compile ``check_str``; raise :class:`PolicySyntaxError` naming ``name`` (and ``source``)."""
    if not isinstance(check_str, str):
        raise PolicySyntaxError(name, repr(check_str), "the rule must be a string (quote it in YAML)", source)
    try:
        return _compile(check_str)
    except _RawSyntaxError as e:
        raise PolicySyntaxError(name, check_str, str(e), source) from None


# ---- defaults ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleDefault:
    """A default rule with what it protects, for the sample file and the docs."""

    name: str
    check_str: str
    description: str
    operations: tuple[tuple[str, str], ...] = ()


ADMIN: Final = "rule:admin_only"
SERVICE: Final = "rule:service_api"
ADMIN_OR_SERVICE: Final = "rule:admin_or_service"
ADMIN_OR_MEMBER: Final = "rule:admin_or_project_member"
ADMIN_OR_READER: Final = "rule:admin_or_project_reader"
ADMIN_OR_NET_OWNER_MEMBER: Final = "rule:admin_or_net_owner_member"
NET_OWNER_MEMBER: Final = "rule:net_owner_member"
NET_OWNER_READER: Final = "rule:net_owner_reader"
ANYONE: Final = "rule:regular_user"


def _any(*checks: str) -> str:
    return " or ".join(checks)


def _ops(method: str, *paths: str) -> tuple[tuple[str, str], ...]:
    return tuple((method, p) for p in paths)


def _crud_ops(collection: str) -> dict[str, tuple[tuple[str, str], ...]]:
    item = f"{collection}/{{id}}"
    return {"create": _ops("POST", collection), "get": _ops("GET", collection, item),
            "update": _ops("PUT", item), "delete": _ops("DELETE", item)}


def _attr(action: str, attrs: Sequence[str], check: str, ops: tuple[tuple[str, str], ...],
          verb: str) -> list[RuleDefault]:
    return [RuleDefault(f"{action}:{a}", check, f"{verb} ``{a}``", ops) for a in attrs]


def _tags(member: str, collection: str) -> list[RuleDefault]:
    """Tag rules follow the parent's get/update rules (Neutron does the same with copies)."""
    item = f"{collection}/{{id}}/tags"
    tag = f"{item}/{{tag}}"
    return [
        RuleDefault(f"get_{member}:tags", f"rule:get_{member}", f"Read the tags of a {member}",
                    _ops("GET", item, tag)),
        RuleDefault(f"create_{member}:tags", f"rule:update_{member}",
                    f"Add a tag to a {member} (or give tags when creating it)",
                    _ops("PUT", tag) + _ops("POST", collection)),
        RuleDefault(f"update_{member}:tags", f"rule:update_{member}", f"Replace all tags of a {member}",
                    _ops("PUT", item)),
        RuleDefault(f"delete_{member}:tags", f"rule:update_{member}", f"Remove tags from a {member}",
                    _ops("DELETE", item, tag)),
    ]


def _base_rules() -> list[RuleDefault]:
    return [
        RuleDefault("context_is_admin", "role:admin", "Who is a cloud administrator"),
        RuleDefault("admin_only", "rule:context_is_admin", "Administrators only"),
        RuleDefault("service_api", "role:service",
                    "Service-to-service callers (e.g. Nova binding ports); never for humans"),
        RuleDefault("regular_user", "", "Any authenticated caller"),
        RuleDefault("default", ADMIN, "Fallback for an action without its own rule"),
        RuleDefault("owner", "tenant_id:%(tenant_id)s", "Caller's project owns the resource (legacy)"),
        RuleDefault("admin_or_owner", "rule:context_is_admin or rule:owner", "Legacy admin-or-owner rule"),
        RuleDefault("project_member", "role:member and project_id:%(project_id)s",
                    "Member of the project owning the resource"),
        RuleDefault("project_reader", "role:reader and project_id:%(project_id)s",
                    "Reader of the project owning the resource"),
        RuleDefault("admin_or_project_member", f"{ADMIN} or rule:project_member",
                    "Administrator, or member of the owning project"),
        RuleDefault("admin_or_project_reader", f"{ADMIN} or rule:project_reader",
                    "Administrator, or reader of the owning project"),
        RuleDefault("admin_or_service", f"{ADMIN} or {SERVICE}", "Administrator or service caller"),
        RuleDefault("network_owner", "tenant_id:%(network:tenant_id)s",
                    "Caller's project owns the resource's network"),
        RuleDefault("admin_or_network_owner", "rule:context_is_admin or rule:network_owner",
                    "Legacy admin-or-network-owner rule"),
        RuleDefault("net_owner_member", "role:member and rule:network_owner",
                    "Member of the project owning the resource's network"),
        RuleDefault("net_owner_reader", "role:reader and rule:network_owner",
                    "Reader of the project owning the resource's network"),
        RuleDefault("admin_or_net_owner_member", f"{ADMIN} or {NET_OWNER_MEMBER}",
                    "Administrator, or member of the network owner's project"),
        RuleDefault("admin_or_net_owner_reader", f"{ADMIN} or {NET_OWNER_READER}",
                    "Administrator, or reader of the network owner's project"),
        RuleDefault("sg_owner", "tenant_id:%(security_group:tenant_id)s",
                    "Caller's project owns the rule's security group"),
        RuleDefault("sg_owner_member", "role:member and rule:sg_owner",
                    "Member of the project owning the security group"),
        RuleDefault("sg_owner_reader", "role:reader and rule:sg_owner",
                    "Reader of the project owning the security group"),
        RuleDefault("admin_or_sg_owner_member", f"{ADMIN} or rule:sg_owner_member",
                    "Administrator, or member of the security group owner's project"),
        RuleDefault("admin_or_sg_owner_reader", f"{ADMIN} or rule:sg_owner_reader",
                    "Administrator, or reader of the security group owner's project"),
        RuleDefault("shared", "field:networks:shared=True",
                    "The network (or the resource's network) is shared"),
        RuleDefault("external", "field:networks:router:external=True", "The network is external"),
        RuleDefault("shared_security_group", "field:security_groups:shared=True",
                    "The security group is shared with the caller"),
        RuleDefault("network_device", "field:port:device_owner=~^network:",
                    "The port belongs to a network device (router, DHCP, ...)"),
        RuleDefault("admin_or_data_plane_int", "rule:context_is_admin or role:data_plane_integrator",
                    "Administrator or data-plane integrator"),
    ]


def _network_rules() -> list[RuleDefault]:
    ops = _crud_ops("/networks")
    admin_attrs = ("shared", "router:external", "is_default", "segments", "provider:network_type",
                   "provider:physical_network", "provider:segmentation_id")
    provider = ("segments", "provider:network_type", "provider:physical_network", "provider:segmentation_id")
    return [
        RuleDefault("create_network", ADMIN_OR_MEMBER, "Create a network", ops["create"]),
        *_attr("create_network", admin_attrs, ADMIN, ops["create"], "Create a network with"),
        RuleDefault("create_network:port_security_enabled", ADMIN_OR_MEMBER,
                    "Create a network with ``port_security_enabled``", ops["create"]),
        RuleDefault("get_network", _any(ADMIN_OR_READER, "rule:shared", "rule:external", SERVICE),
                    "Show or list networks", ops["get"]),
        RuleDefault("get_network:router:external", ANYONE, "Read ``router:external``", ops["get"]),
        *_attr("get_network", provider, ADMIN, ops["get"], "Read"),
        RuleDefault("update_network", ADMIN_OR_MEMBER, "Update a network", ops["update"]),
        *_attr("update_network", admin_attrs, ADMIN, ops["update"], "Update"),
        RuleDefault("update_network:port_security_enabled", ADMIN_OR_MEMBER,
                    "Update ``port_security_enabled``", ops["update"]),
        RuleDefault("delete_network", ADMIN_OR_MEMBER, "Delete a network", ops["delete"]),
        *_tags("network", "/networks"),
    ]


def _subnet_rules() -> list[RuleDefault]:
    ops = _crud_ops("/subnets")
    write = _any(ADMIN_OR_MEMBER, NET_OWNER_MEMBER)
    return [
        RuleDefault("create_subnet", ADMIN_OR_NET_OWNER_MEMBER,
                    "Create a subnet (on a network the caller's project owns)", ops["create"]),
        *_attr("create_subnet", ("segment_id", "service_types"), ADMIN, ops["create"],
               "Create a subnet with"),
        RuleDefault("get_subnet", _any(ADMIN_OR_READER, NET_OWNER_READER, "rule:shared"),
                    "Show or list subnets", ops["get"]),
        RuleDefault("get_subnet:segment_id", ADMIN, "Read ``segment_id``", ops["get"]),
        RuleDefault("update_subnet", write, "Update a subnet", ops["update"]),
        *_attr("update_subnet", ("segment_id", "service_types"), ADMIN, ops["update"], "Update"),
        RuleDefault("delete_subnet", write, "Delete a subnet", ops["delete"]),
        *_tags("subnet", "/subnets"),
    ]


def _port_rules() -> list[RuleDefault]:
    ops = _crud_ops("/ports")
    net_owner_or_service = _any(ADMIN_OR_NET_OWNER_MEMBER, SERVICE)
    owner_or_service = _any(ADMIN_OR_MEMBER, SERVICE)
    device_owner = _any("not rule:network_device", ADMIN_OR_NET_OWNER_MEMBER, SERVICE)
    return [
        RuleDefault("create_port", _any(ADMIN_OR_MEMBER, NET_OWNER_MEMBER, SERVICE), "Create a port",
                    ops["create"]),
        RuleDefault("create_port:device_owner", device_owner,
                    "Create a port with a ``network:*`` device_owner", ops["create"]),
        RuleDefault("create_port:mac_address", net_owner_or_service, "Create a port with ``mac_address``",
                    ops["create"]),
        RuleDefault("create_port:fixed_ips", _any(net_owner_or_service, "rule:shared"),
                    "Create a port with ``fixed_ips``", ops["create"]),
        RuleDefault("create_port:fixed_ips:ip_address", net_owner_or_service,
                    "Create a port asking for a specific IP address", ops["create"]),
        RuleDefault("create_port:fixed_ips:subnet_id", _any(net_owner_or_service, "rule:shared"),
                    "Create a port on a given subnet", ops["create"]),
        RuleDefault("create_port:port_security_enabled", net_owner_or_service,
                    "Create a port with ``port_security_enabled``", ops["create"]),
        *_attr("create_port", ("binding:host_id", "binding:profile"), ADMIN_OR_SERVICE, ops["create"],
               "Create a port with"),
        RuleDefault("create_port:binding:vnic_type", owner_or_service,
                    "Create a port with ``binding:vnic_type``", ops["create"]),
        *_attr("create_port", ("allowed_address_pairs", "allowed_address_pairs:mac_address",
                               "allowed_address_pairs:ip_address"), ADMIN_OR_NET_OWNER_MEMBER, ops["create"],
               "Create a port with"),
        RuleDefault("get_port", _any(ADMIN_OR_READER, NET_OWNER_READER, SERVICE), "Show or list ports",
                    ops["get"]),
        *_attr("get_port", ("binding:vif_type", "binding:vif_details", "binding:host_id", "binding:profile",
                            "resource_request"), ADMIN_OR_SERVICE, ops["get"], "Read"),
        RuleDefault("update_port", owner_or_service, "Update a port", ops["update"]),
        RuleDefault("update_port:device_owner", device_owner, "Set a ``network:*`` device_owner",
                    ops["update"]),
        RuleDefault("update_port:mac_address", ADMIN_OR_SERVICE, "Update ``mac_address``", ops["update"]),
        RuleDefault("update_port:fixed_ips", net_owner_or_service, "Update ``fixed_ips``", ops["update"]),
        RuleDefault("update_port:fixed_ips:ip_address", net_owner_or_service,
                    "Ask for a specific IP address in ``fixed_ips``", ops["update"]),
        RuleDefault("update_port:fixed_ips:subnet_id", _any(net_owner_or_service, "rule:shared"),
                    "Give a subnet in ``fixed_ips``", ops["update"]),
        RuleDefault("update_port:port_security_enabled", net_owner_or_service,
                    "Update ``port_security_enabled``", ops["update"]),
        *_attr("update_port", ("binding:host_id", "binding:profile"), ADMIN_OR_SERVICE, ops["update"],
               "Update"),
        RuleDefault("update_port:binding:vnic_type", owner_or_service, "Update ``binding:vnic_type``",
                    ops["update"]),
        *_attr("update_port", ("allowed_address_pairs", "allowed_address_pairs:mac_address",
                               "allowed_address_pairs:ip_address"), ADMIN_OR_NET_OWNER_MEMBER, ops["update"],
               "Update"),
        RuleDefault("update_port:data_plane_status", "rule:admin_or_data_plane_int",
                    "Update ``data_plane_status``", ops["update"]),
        RuleDefault("delete_port", _any(ADMIN_OR_MEMBER, NET_OWNER_MEMBER, SERVICE), "Delete a port",
                    ops["delete"]),
        *_tags("port", "/ports"),
    ]


def _security_group_rules() -> list[RuleDefault]:
    sg = _crud_ops("/security-groups")
    rule = _crud_ops("/security-group-rules")
    sg_write = f"({ADMIN_OR_MEMBER}) and (rule:admin_or_sg_owner_member)"
    return [
        RuleDefault("create_security_group", ADMIN_OR_MEMBER, "Create a security group", sg["create"]),
        RuleDefault("get_security_group", _any(ADMIN_OR_READER, "rule:shared_security_group"),
                    "Show or list security groups", sg["get"]),
        RuleDefault("update_security_group", ADMIN_OR_MEMBER, "Update a security group", sg["update"]),
        RuleDefault("delete_security_group", ADMIN_OR_MEMBER, "Delete a security group", sg["delete"]),
        *_tags("security_group", "/security-groups"),
        RuleDefault("create_security_group_rule", sg_write,
                    "Create a security group rule (in the caller's project and security group)",
                    rule["create"]),
        RuleDefault("get_security_group_rule", _any(ADMIN_OR_READER, "rule:admin_or_sg_owner_reader"),
                    "Show or list security group rules", rule["get"]),
        RuleDefault("delete_security_group_rule", sg_write, "Delete a security group rule", rule["delete"]),
    ]


def _router_rules() -> list[RuleDefault]:
    ops = _crud_ops("/routers")
    gw_member = ("external_gateway_info", "external_gateway_info:network_id")
    gw_admin = ("external_gateway_info:enable_snat", "external_gateway_info:external_fixed_ips")
    return [
        RuleDefault("create_router", ADMIN_OR_MEMBER, "Create a router", ops["create"]),
        *_attr("create_router", ("distributed", "ha"), ADMIN, ops["create"], "Create a router with"),
        *_attr("create_router", gw_member, ADMIN_OR_MEMBER, ops["create"], "Create a router with"),
        *_attr("create_router", gw_admin, ADMIN, ops["create"], "Create a router with"),
        RuleDefault("get_router", ADMIN_OR_READER, "Show or list routers", ops["get"]),
        *_attr("get_router", ("distributed", "ha"), ADMIN, ops["get"], "Read"),
        RuleDefault("update_router", ADMIN_OR_MEMBER, "Update a router", ops["update"]),
        *_attr("update_router", ("distributed", "ha"), ADMIN, ops["update"], "Update"),
        *_attr("update_router", gw_member, ADMIN_OR_MEMBER, ops["update"], "Update"),
        *_attr("update_router", gw_admin, ADMIN, ops["update"], "Update"),
        RuleDefault("delete_router", ADMIN_OR_MEMBER, "Delete a router", ops["delete"]),
        RuleDefault("add_router_interface", ADMIN_OR_MEMBER, "Attach a subnet or port to a router",
                    _ops("PUT", "/routers/{id}/add_router_interface")),
        RuleDefault("remove_router_interface", ADMIN_OR_MEMBER, "Detach a subnet or port from a router",
                    _ops("PUT", "/routers/{id}/remove_router_interface")),
        RuleDefault("add_extraroutes", ADMIN_OR_MEMBER, "Add static routes to a router",
                    _ops("PUT", "/routers/{id}/add_extraroutes")),
        RuleDefault("remove_extraroutes", ADMIN_OR_MEMBER, "Remove static routes from a router",
                    _ops("PUT", "/routers/{id}/remove_extraroutes")),
        *_tags("router", "/routers"),
    ]


def _floatingip_rules() -> list[RuleDefault]:
    ops = _crud_ops("/floatingips")
    return [
        RuleDefault("create_floatingip", ADMIN_OR_MEMBER, "Create a floating IP", ops["create"]),
        RuleDefault("create_floatingip:floating_ip_address", ADMIN,
                    "Create a floating IP with a given address", ops["create"]),
        RuleDefault("get_floatingip", ADMIN_OR_READER, "Show or list floating IPs", ops["get"]),
        RuleDefault("update_floatingip", ADMIN_OR_MEMBER, "Associate, disassociate or update a floating IP",
                    ops["update"]),
        RuleDefault("delete_floatingip", ADMIN_OR_MEMBER, "Release a floating IP", ops["delete"]),
        *_tags("floatingip", "/floatingips"),
    ]


def _quota_rules() -> list[RuleDefault]:
    item = "/quotas/{project_id}"
    return [
        RuleDefault("get_quota", ADMIN_OR_READER,
                    "Read a project's quota (own project for readers; the all-projects list for admins)",
                    _ops("GET", "/quotas", item, f"{item}/details")),
        RuleDefault("get_quota_default", ADMIN_OR_READER, "Read the default quota as it applies to a project",
                    _ops("GET", f"{item}/default")),
        RuleDefault("update_quota", ADMIN, "Set a project's quota", _ops("PUT", item)),
        RuleDefault("delete_quota", ADMIN, "Reset a project's quota to the defaults", _ops("DELETE", item)),
    ]


RULE_DEFAULTS: Final[tuple[RuleDefault, ...]] = (
    *_base_rules(), *_network_rules(), *_subnet_rules(), *_port_rules(), *_security_group_rules(),
    *_router_rules(), *_floatingip_rules(), *_quota_rules(),
)
DEFAULT_RULES: Final[Mapping[str, str]] = MappingProxyType({r.name: r.check_str for r in RULE_DEFAULTS})
_DOCS: Final[Mapping[str, RuleDefault]] = MappingProxyType({r.name: r for r in RULE_DEFAULTS})


# ---- policy file ------------------------------------------------------------------------------
def _load_policy_file(path: str | os.PathLike[str]) -> tuple[str, dict[str, str]]:
    """Read overrides; YAML (and so JSON) mapping of rule name to check string."""
    shown = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise PolicyFileError(f"policy file {shown} does not exist") from None
    except OSError as e:
        raise PolicyFileError(f"policy file {shown} cannot be read: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise PolicyFileError(f"policy file {shown} is not valid YAML: {e}") from None
    if data is None:
        return shown, {}
    if not isinstance(data, dict):
        raise PolicyFileError(f"policy file {shown} must be a mapping of rule names to check strings, "
                              f"not {type(data).__name__}")
    out: dict[str, str] = {}
    for name, check in data.items():
        if not isinstance(name, str) or not name:
            raise PolicyFileError(f"policy file {shown}: rule name {name!r} is not a non-empty string")
        if not isinstance(check, str):
            raise PolicySyntaxError(name, repr(check), "the rule must be a string (quote it in YAML; "
                                    "use \"\" to allow everyone and \"!\" to deny)", shown)
        out[name] = check
    return shown, out


def _validate_graph(compiled: Mapping[str, _Check], sources: Mapping[str, str | None],
                    texts: Mapping[str, str]) -> None:
    """Reject references to undefined rules and reference cycles (which would recurse forever)."""
    graph: dict[str, list[str]] = {}
    for name, check in compiled.items():
        refs = list(dict.fromkeys(check.refs()))
        for ref in refs:
            if ref not in compiled:
                raise PolicySyntaxError(name, texts[name], f"refers to undefined rule 'rule:{ref}'",
                                        sources.get(name))
        graph[name] = refs
    done: set[str] = set()
    for start in graph:
        if start in done:
            continue
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(graph[start]))]
        on_path = {start: 0}
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                del on_path[node]
                done.add(node)
                continue
            if child in on_path:
                cycle = [n for n, _ in stack[on_path[child]:]] + [child]
                raise PolicySyntaxError(child, texts[child], "rule references form a cycle: "
                                        + " -> ".join(cycle), sources.get(child))
            if child not in done:
                on_path[child] = len(stack)
                stack.append((child, iter(graph[child])))


# ---- enforcer ---------------------------------------------------------------------------------
_UNSET: Final = object()


class Enforcer:
    """Evaluates actions for a :class:`RequestContext`; immutable after construction, so thread-safe.

    ``defaults`` replaces :data:`DEFAULT_RULES` when given; ``policy_file`` overrides individual rules
    (and may add new ones). Every rule is compiled and cross-checked here, so a bad file fails at start.
    """

    def __init__(self, defaults: Mapping[str, str] | None = None,
                 policy_file: str | os.PathLike[str] | None = None) -> None:
        base = dict(DEFAULT_RULES if defaults is None else defaults)
        overrides: dict[str, str] = {}
        shown: str | None = None
        if policy_file is not None:
            shown, overrides = _load_policy_file(policy_file)
        effective = {**base, **overrides}
        sources = {name: (shown if name in overrides else None) for name in effective}
        compiled = {name: parse_rule(text, name, sources[name]) for name, text in effective.items()}
        _validate_graph(compiled, sources, effective)
        self.policy_file = shown
        self._defaults: Mapping[str, str] = MappingProxyType(base)
        self._text: Mapping[str, str] = MappingProxyType(effective)
        self._compiled: Mapping[str, _Check] = MappingProxyType(compiled)
        self._overridden = frozenset(n for n, t in overrides.items() if base.get(n) != t)
        # Attribute rules with sub-attribute rules below them (create_port:fixed_ips -> :ip_address).
        self._parents = frozenset(n.rsplit(":", 1)[0] for n in effective if ":" in n)
        # One-entry cache: list views check many items for the same context back to back.
        self._last_creds: tuple[RequestContext, _Creds] | None = None

    # ---- introspection ----------------------------------------------------------------------
    @property
    def rules(self) -> Mapping[str, str]:
        """Effective check strings by rule name (defaults with the file's overrides applied)."""
        return self._text

    @property
    def defaults(self) -> Mapping[str, str]:
        return self._defaults

    @property
    def overridden(self) -> frozenset[str]:
        """Rules the policy file changed or added."""
        return self._overridden

    def has_rule(self, name: str) -> bool:
        return name in self._compiled

    # ---- evaluation -------------------------------------------------------------------------
    def _creds(self, ctx: RequestContext) -> _Creds:
        last = self._last_creds
        if last is not None and last[0] is ctx:
            return last[1]
        roles = _expand_roles(ctx.roles)
        values = dict(ctx.to_policy_creds())
        values["roles"] = sorted(roles)
        values["is_admin"] = ctx.is_admin
        creds = _Creds(values, roles)
        self._last_creds = (ctx, creds)
        return creds

    def check(self, ctx: RequestContext, action: str, target: Mapping[str, Any]) -> bool:
        """Whether ``ctx`` may perform ``action`` on ``target``; unknown actions use ``default``."""
        rule = self._compiled.get(action)
        if rule is None:
            rule = self._compiled.get("default")
            if rule is None:
                return False
        return rule(target, self._creds(ctx), self._compiled)

    def enforce(self, ctx: RequestContext, action: str, target: Mapping[str, Any]) -> None:
        """Like :meth:`check` but raises Neutron's 403 ``PolicyNotAuthorized``."""
        if not self.check(ctx, action, target):
            raise PolicyNotAuthorized(action=action)

    def failed_attribute_rule(self, ctx: RequestContext, action: str, attr: str, target: Mapping[str, Any],
                              value: Any = _UNSET) -> str | None:
        """Name of the first attribute rule that denies, or ``None``.

        Checks ``<action>:<attr>`` and, as Neutron does for dict and list-of-dict attributes, each
        ``<action>:<attr>:<key>`` for the keys present in ``value`` (default: ``target[attr]``). Pass the
        raw request value so defaults filled in later do not trigger sub-attribute rules. Attributes
        without a rule are allowed.
        """
        name = f"{action}:{attr}"
        compiled = self._compiled
        rule = compiled.get(name)
        creds: _Creds | None = None
        if rule is not None:
            creds = self._creds(ctx)
            if not rule(target, creds, compiled):
                return name
        if name in self._parents:
            for key in _sub_keys(target.get(attr) if value is _UNSET else value):
                sub = compiled.get(f"{name}:{key}")
                if sub is None:
                    continue
                if creds is None:
                    creds = self._creds(ctx)
                if not sub(target, creds, compiled):
                    return f"{name}:{key}"
        return None

    def check_attribute(self, ctx: RequestContext, action: str, attr: str, target: Mapping[str, Any],
                        value: Any = _UNSET) -> bool:
        """Whether ``ctx`` may set (create/update) or see (get) ``attr``; see failed_attribute_rule."""
        return self.failed_attribute_rule(ctx, action, attr, target, value) is None

    def enforce_attribute(self, ctx: RequestContext, action: str, attr: str, target: Mapping[str, Any],
                          value: Any = _UNSET) -> None:
        """Raise ``PolicyNotAuthorized`` naming the exact rule (``create_port:fixed_ips:ip_address``)."""
        failed = self.failed_attribute_rule(ctx, action, attr, target, value)
        if failed is not None:
            raise PolicyNotAuthorized(action=failed)

    # ---- sample file ------------------------------------------------------------------------
    def generate_sample_yaml(self) -> str:
        """A policy file documenting every rule; defaults commented out, overrides active.

        Loading the result back reproduces this enforcer's effective rules.
        """
        lines = ["# RegionMesh network API policy (oslo.policy syntax).",
                 "# Uncomment a rule to change it; rules not listed keep their defaults.", ""]
        for name, text in self._text.items():
            doc = _DOCS.get(name)
            if doc is not None:
                lines.append(f"# {doc.description}")
                lines.extend(f"# {method}  {path}" for method, path in doc.operations)
            active = name in self._overridden or name not in self._defaults
            entry = f"{json.dumps(name)}: {json.dumps(text)}"
            lines.append(entry if active else f"#{entry}")
            lines.append("")
        return "\n".join(lines)


def _sub_keys(value: Any) -> Iterator[str]:
    """Keys of a dict, or of the dicts in a list (``fixed_ips``), each once, in order."""
    seen: set[str] = set()
    items: Sequence[Any]
    if isinstance(value, Mapping):
        items = (value,)
    elif isinstance(value, list | tuple):
        items = value
    else:
        return
    for item in items:
        if isinstance(item, Mapping):
            for key in item:
                if isinstance(key, str) and key not in seen:
                    seen.add(key)
                    yield key


@functools.cache
def default_enforcer() -> Enforcer:
    """The process-wide enforcer with the built-in defaults and no policy file."""
    return Enforcer()


def load_enforcer(policy_file: str | os.PathLike[str] | None) -> Enforcer:
    """The enforcer for a configured ``policy_file`` (``None``: the shared default one)."""
    if policy_file is None:
        return default_enforcer()
    return Enforcer(policy_file=policy_file)
