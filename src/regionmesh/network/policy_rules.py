"""The policy rule language: oslo.policy's check strings, compiled to immutable, shareable check trees.

The language is oslo.policy's, so an operator's existing ``policy.yaml`` works unchanged:

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

:func:`parse_rule` is the entry point; :class:`regionmesh.network.policy.Enforcer` evaluates the trees.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

__all__ = ["PolicyError", "PolicySyntaxError", "parse_rule"]


# ---- errors -----------------------------------------------------------------------------------
class PolicyError(Exception):
    """A policy configuration problem, raised at start-up rather than on a request."""


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
