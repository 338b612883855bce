"""Neutron's policy engine without oslo: the :class:`Enforcer`, ``policy.yaml`` overrides, start-up checks.

Why not oslo.policy: it drags oslo.config/oslo.context in and fails *open* on ``None`` (an unscoped
caller matches ``project_id:%(project_id)s`` against a project-less target, both being ``"None"``).
The rule language is oslo.policy's (see :mod:`regionmesh.network.policy_rules`), so an operator's
existing ``policy.yaml`` works unchanged; the secure-RBAC defaults, and the target keys they read, are in
:mod:`regionmesh.network.policy_defaults`.

Deviations from Neutron, on purpose: an action without a rule falls back to ``default``, which is
``rule:admin_only`` (not the legacy ``admin_or_owner``); ``get_quota``/``get_quota_default`` let a
project reader read its own quota (Neutron skips policy for one's own project instead); token scope
types are not enforced (every default is project-scoped, and system-scope admins still need the
admin role).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

import yaml

from regionmesh.context import RequestContext
from regionmesh.network.exceptions import PolicyNotAuthorized
from regionmesh.network.policy_defaults import _DOCS, DEFAULT_RULES, RULE_DEFAULTS, RuleDefault
from regionmesh.network.policy_rules import (
    PolicyError,
    PolicySyntaxError,
    _Check,
    _Creds,
    _expand_roles,
    parse_rule,
)

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


# ---- policy file ------------------------------------------------------------------------------
class PolicyFileError(PolicyError):
    """The policy file is missing, unreadable, or not a mapping of rule names to strings."""


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
