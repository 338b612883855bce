"""Policy engine: rule language, Neutron secure-RBAC defaults, policy.yaml overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from regionmesh.context import RequestContext
from regionmesh.network import exceptions as exc
from regionmesh.network import policy_rules
from regionmesh.network.policy import (
    DEFAULT_RULES,
    RULE_DEFAULTS,
    Enforcer,
    PolicyFileError,
    PolicySyntaxError,
    default_enforcer,
    load_enforcer,
)

P1, P2 = "p1", "p2"

ADMIN = RequestContext(user_id="u-admin", project_id="p-admin", roles=frozenset({"admin"}))
MEMBER = RequestContext(user_id="u-member", project_id=P1, roles=frozenset({"member"}))
READER = RequestContext(user_id="u-reader", project_id=P1, roles=frozenset({"reader"}))
OTHER = RequestContext(user_id="u-other", project_id=P2, roles=frozenset({"member"}))
SERVICE = RequestContext(user_id="nova", project_id="p-service", roles=frozenset({"service"}))
NOBODY = RequestContext(user_id="u-none", project_id=None, roles=frozenset())

PERSONAS = {"admin": ADMIN, "member": MEMBER, "reader": READER, "other": OTHER, "service": SERVICE}


def own(**extra: Any) -> dict[str, Any]:
    return {"project_id": P1, "tenant_id": P1, **extra}


def port_target(owner: str = P1, net_owner: str = P1, **extra: Any) -> dict[str, Any]:
    return {"project_id": owner, "tenant_id": owner, "network:tenant_id": net_owner,
            "network:project_id": net_owner, "network:shared": False, **extra}


@pytest.fixture(scope="module")
def enf() -> Enforcer:
    return Enforcer()


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---- persona x action matrix ------------------------------------------------------------------
# persona -> (create, get, update, delete) on a resource owned by project p1.
OWNED_MATRIX = {
    "admin": (True, True, True, True),
    "member": (True, True, True, True),
    "reader": (False, True, False, False),
    "other": (False, False, False, False),
    "service": (False, False, False, False),
}


@pytest.mark.parametrize("member", ["network", "router", "floatingip", "security_group"])
@pytest.mark.parametrize("persona", sorted(OWNED_MATRIX))
def test_crud_matrix_on_project_owned_resources(enf: Enforcer, member: str, persona: str) -> None:
    ctx = PERSONAS[persona]
    target = own(shared=False, **{"router:external": False})
    got = tuple(enf.check(ctx, f"{verb}_{member}", target) for verb in ("create", "get", "update", "delete"))
    expected = OWNED_MATRIX[persona]
    if persona == "service" and member == "network":
        expected = (False, True, False, False)  # Nova looks networks up while booting
    assert got == expected


@pytest.mark.parametrize(("persona", "expected"), [
    # create, get, update, delete of p1's port on p1's network
    ("admin", (True, True, True, True)),
    ("member", (True, True, True, True)),
    ("reader", (False, True, False, False)),
    ("other", (False, False, False, False)),
    ("service", (True, True, True, True)),  # Nova creates, reads and binds ports for any project
])
def test_port_matrix(enf: Enforcer, persona: str, expected: tuple[bool, ...]) -> None:
    ctx = PERSONAS[persona]
    target = port_target()
    got = tuple(enf.check(ctx, f"{v}_port", target) for v in ("create", "get", "update", "delete"))
    assert got == expected


def test_network_owner_manages_other_projects_ports_on_its_network(enf: Enforcer) -> None:
    foreign_port = port_target(owner=P2, net_owner=P1)
    assert enf.check(MEMBER, "get_port", foreign_port)
    assert enf.check(MEMBER, "delete_port", foreign_port)
    assert enf.check(MEMBER, "create_port:mac_address", foreign_port)
    # ...but the port's own project cannot pick a MAC on somebody else's network
    assert not enf.check(OTHER, "create_port:mac_address", foreign_port)
    # a network owner who is only a reader may look but not delete
    assert enf.check(READER, "get_port", foreign_port)
    assert not enf.check(READER, "delete_port", foreign_port)


def test_subnet_rules_follow_network_ownership(enf: Enforcer) -> None:
    on_own_net = port_target(owner=P1, net_owner=P1)
    foreign_subnet_on_own_net = port_target(owner=P2, net_owner=P1)
    own_subnet_on_foreign_net = port_target(owner=P1, net_owner=P2)
    assert enf.check(MEMBER, "create_subnet", on_own_net)
    assert enf.check(MEMBER, "create_subnet", foreign_subnet_on_own_net)
    assert not enf.check(MEMBER, "create_subnet", own_subnet_on_foreign_net)
    assert enf.check(MEMBER, "update_subnet", own_subnet_on_foreign_net)
    assert enf.check(MEMBER, "get_subnet", foreign_subnet_on_own_net)
    assert not enf.check(OTHER, "get_subnet", on_own_net)
    assert not enf.check(READER, "create_subnet", on_own_net)
    assert not enf.check(SERVICE, "create_subnet", on_own_net)


def test_shared_and_external_networks_are_readable_not_writable_by_others(enf: Enforcer) -> None:
    shared = own(shared=True, **{"router:external": False})
    external = own(shared=False, **{"router:external": True})
    for target in (shared, external):
        assert enf.check(OTHER, "get_network", target)
        assert not enf.check(OTHER, "update_network", target)
        assert not enf.check(OTHER, "delete_network", target)
    # subnets and ports of a shared network see the network's flag through "network:shared"
    subnet = port_target(owner=P1, net_owner=P1, **{"network:shared": True})
    assert enf.check(OTHER, "get_subnet", subnet)
    assert not enf.check(OTHER, "get_subnet", port_target())


def test_service_reads_networks_but_not_other_resources(enf: Enforcer) -> None:
    assert enf.check(SERVICE, "get_network", own(shared=False))
    assert not enf.check(SERVICE, "get_router", own())
    assert not enf.check(SERVICE, "create_network", own())


def test_security_group_rule_needs_project_and_group_ownership(enf: Enforcer) -> None:
    own_rule = own(**{"security_group:tenant_id": P1})
    rule_in_foreign_group = own(**{"security_group:tenant_id": P2})
    assert enf.check(MEMBER, "create_security_group_rule", own_rule)
    assert not enf.check(MEMBER, "create_security_group_rule", rule_in_foreign_group)
    assert enf.check(ADMIN, "create_security_group_rule", rule_in_foreign_group)
    assert not enf.check(READER, "delete_security_group_rule", own_rule)
    assert enf.check(READER, "get_security_group_rule", own_rule)
    # the group's owner may read rules others put in its group
    assert enf.check(MEMBER, "get_security_group_rule",
                     {"project_id": P2, "tenant_id": P2, "security_group:project_id": P1})
    assert enf.check(OTHER, "get_security_group", own(shared=True))


def test_router_interface_actions(enf: Enforcer) -> None:
    router = own()
    for action in ("add_router_interface", "remove_router_interface"):
        assert enf.check(MEMBER, action, router)
        assert enf.check(ADMIN, action, router)
        assert not enf.check(READER, action, router)
        assert not enf.check(OTHER, action, router)


def test_quota_rules(enf: Enforcer) -> None:
    quota = {"project_id": P1, "tenant_id": P1}
    for action in ("get_quota", "get_quota_default"):
        assert enf.check(READER, action, quota)
        assert enf.check(MEMBER, action, quota)
        assert not enf.check(OTHER, action, quota)
        assert enf.check(ADMIN, action, quota)
    assert not enf.check(MEMBER, "get_quota", {})  # the all-projects list
    assert not enf.check(MEMBER, "get_quota", {"project_id": "", "tenant_id": ""})
    assert enf.check(ADMIN, "get_quota", {})
    for action in ("update_quota", "delete_quota"):
        assert not enf.check(MEMBER, action, quota)
        assert enf.check(ADMIN, action, quota)


def test_tag_rules_follow_parent_rules(enf: Enforcer) -> None:
    shared = own(shared=True)
    assert enf.check(OTHER, "get_network:tags", shared)
    assert not enf.check(OTHER, "update_network:tags", shared)
    assert enf.check(MEMBER, "create_network:tags", shared)
    assert not enf.check(READER, "delete_network:tags", shared)
    for member in ("network", "subnet", "port", "router", "floatingip", "security_group"):
        for verb in ("get", "create", "update", "delete"):
            assert enf.has_rule(f"{verb}_{member}:tags")


def test_enforce_raises_neutron_403(enf: Enforcer) -> None:
    enf.enforce(MEMBER, "create_network", own())
    with pytest.raises(exc.PolicyNotAuthorized) as err:
        enf.enforce(READER, "create_network", own())
    assert str(err.value) == "(rule:create_network) is disallowed by policy"
    assert isinstance(err.value, exc.NotAuthorized)


def test_unknown_action_falls_back_to_admin_only_default(enf: Enforcer) -> None:
    assert not enf.check(MEMBER, "frobnicate_network", own())
    assert enf.check(ADMIN, "frobnicate_network", own())
    assert not Enforcer(defaults={"x": "@"}).check(ADMIN, "frobnicate", {})


# ---- attribute rules --------------------------------------------------------------------------
@pytest.mark.parametrize("attr", ["shared", "router:external", "provider:network_type",
                                  "provider:physical_network", "provider:segmentation_id", "segments"])
def test_only_admin_sets_privileged_network_attributes(enf: Enforcer, attr: str) -> None:
    target = own()
    assert not enf.check_attribute(MEMBER, "create_network", attr, target)
    assert not enf.check_attribute(MEMBER, "update_network", attr, target)
    assert enf.check_attribute(ADMIN, "create_network", attr, target)


def test_network_attribute_visibility(enf: Enforcer) -> None:
    target = own(shared=False)
    assert not enf.check_attribute(MEMBER, "get_network", "provider:network_type", target)
    assert enf.check_attribute(ADMIN, "get_network", "provider:network_type", target)
    for ctx in PERSONAS.values():
        assert enf.check_attribute(ctx, "get_network", "router:external", target)
    # attributes without a rule are visible/settable (Neutron enforces only defined rules)
    assert enf.check_attribute(OTHER, "get_network", "name", target)
    assert enf.check_attribute(MEMBER, "create_network", "description", target)


@pytest.mark.parametrize("attr", ["binding:host_id", "binding:profile"])
def test_port_binding_attributes(enf: Enforcer, attr: str) -> None:
    target = port_target()
    for action in ("create_port", "update_port"):
        assert not enf.check_attribute(MEMBER, action, attr, target)
        assert enf.check_attribute(ADMIN, action, attr, target)
        assert enf.check_attribute(SERVICE, action, attr, target)
    assert not enf.check_attribute(MEMBER, "get_port", "binding:vif_type", target)
    assert enf.check_attribute(SERVICE, "get_port", "binding:vif_type", target)
    assert enf.check_attribute(MEMBER, "create_port", "binding:vnic_type", target)


def test_fixed_ips_sub_attributes(enf: Enforcer) -> None:
    # p2 creates a port on p1's shared network
    shared_net_port = port_target(owner=P2, net_owner=P1, **{"network:shared": True})
    by_subnet = [{"subnet_id": "s1"}]
    by_address = [{"subnet_id": "s1", "ip_address": "10.0.0.5"}]
    assert enf.check_attribute(OTHER, "create_port", "fixed_ips", {**shared_net_port, "fixed_ips": by_subnet})
    assert not enf.check_attribute(OTHER, "create_port", "fixed_ips",
                                   {**shared_net_port, "fixed_ips": by_address})
    assert enf.failed_attribute_rule(OTHER, "create_port", "fixed_ips", shared_net_port,
                                     value=by_address) == "create_port:fixed_ips:ip_address"
    with pytest.raises(exc.PolicyNotAuthorized, match=r"\(rule:create_port:fixed_ips:ip_address\)"):
        enf.enforce_attribute(OTHER, "create_port", "fixed_ips", shared_net_port, value=by_address)
    # the network owner may pick addresses; the direct sub-attribute name works too
    assert enf.check_attribute(MEMBER, "create_port", "fixed_ips", port_target(fixed_ips=by_address))
    assert not enf.check_attribute(OTHER, "create_port", "fixed_ips:ip_address", shared_net_port)


def test_router_gateway_sub_attributes(enf: Enforcer) -> None:
    router = own()
    net_only = {"network_id": "ext"}
    with_snat = {"network_id": "ext", "enable_snat": False}
    with_ips = {"network_id": "ext", "external_fixed_ips": [{"ip_address": "203.0.113.9"}]}
    assert enf.check_attribute(MEMBER, "create_router", "external_gateway_info", router, value=net_only)
    assert enf.failed_attribute_rule(MEMBER, "create_router", "external_gateway_info", router,
                                     value=with_snat) == "create_router:external_gateway_info:enable_snat"
    assert not enf.check_attribute(MEMBER, "update_router", "external_gateway_info", router, value=with_ips)
    assert enf.check_attribute(ADMIN, "create_router", "external_gateway_info", router, value=with_snat)
    # without value= the target's own attribute is used
    assert not enf.check_attribute(MEMBER, "create_router", "external_gateway_info",
                                   {**router, "external_gateway_info": with_snat})
    assert enf.check_attribute(MEMBER, "create_router", "external_gateway_info:network_id", router)


def test_device_owner_rule(enf: Enforcer) -> None:
    foreign_net = port_target(owner=P2, net_owner=P1)
    assert enf.check_attribute(OTHER, "create_port", "device_owner",
                               {**foreign_net, "device_owner": "compute:nova"})
    assert not enf.check_attribute(OTHER, "create_port", "device_owner",
                                   {**foreign_net, "device_owner": "network:router_interface"})
    assert enf.check_attribute(MEMBER, "create_port", "device_owner",
                               {**foreign_net, "device_owner": "network:router_interface"})
    assert enf.check_attribute(SERVICE, "update_port", "device_owner",
                               {**foreign_net, "device_owner": "network:dhcp"})


# ---- target lookups ---------------------------------------------------------------------------
def test_network_project_id_alias_for_tenant_id(enf: Enforcer) -> None:
    only_project_key = {"project_id": P2, "network:project_id": P1}
    assert enf.check(MEMBER, "get_port", only_project_key)
    assert enf.check(MEMBER, "create_subnet", only_project_key)
    assert not enf.check(MEMBER, "create_subnet", {"project_id": P2, "network:project_id": P2})


def test_missing_target_key_denies_without_crashing(enf: Enforcer) -> None:
    assert not enf.check(MEMBER, "get_port", {})
    assert not enf.check(MEMBER, "create_subnet", {"project_id": P1})  # no network owner known
    e = Enforcer(defaults={"a": "project_id:%(nope)s", "b": "field:networks:shared=True",
                           "c": "True:%(nope)s"})
    for rule in ("a", "b", "c"):
        assert not e.check(ADMIN, rule, {"project_id": "p-admin"})


def test_none_never_matches(enf: Enforcer) -> None:
    # oslo.policy would compare "None" == "None" here and allow
    assert not enf.check(NOBODY, "get_network", {"project_id": None, "tenant_id": None})
    e = Enforcer(defaults={"r": "project_id:%(project_id)s"})
    assert not e.check(NOBODY, "r", {"project_id": None})
    assert not e.check(NOBODY, "r", {})


# ---- rule language ----------------------------------------------------------------------------
def rules_enforcer(**rules: str) -> Enforcer:
    return Enforcer(defaults=rules)


def ctx_with(*roles: str, project: str | None = P1, system_scope: str | None = None) -> RequestContext:
    return RequestContext(project_id=project, roles=frozenset(roles), system_scope=system_scope)


@pytest.mark.parametrize(("text", "roles", "expected"), [
    ("", (), True),
    ("@", (), True),
    ("!", ("admin",), False),
    ("role:a", ("A",), True),  # case-insensitive
    ("role:a or role:b and role:c", ("a",), True),  # a or (b and c)
    ("role:a or role:b and role:c", ("b",), False),
    ("(role:a or role:b) and role:c", ("a",), False),
    ("(role:a or role:b) and role:c", ("b", "c"), True),
    ("not role:a and role:b", ("b",), True),  # (not a) and b
    ("not role:a and role:b", ("a", "b"), False),
    ("not (role:a and role:b)", ("a",), True),
    ("not (role:a and role:b)", ("a", "b"), False),
    ("not not role:a", ("a",), True),
    ("((role:a))", ("a",), True),
    ("role:a AND NOT role:b", ("a",), True),
    ("role:a or role:b or role:c", ("c",), True),
    ("@ and !", (), False),
    ("@ or !", (), True),
    ("role:member", ("admin",), True),  # implied roles
    ("role:reader", ("member",), True),
    ("role:member", ("reader",), False),
])
def test_language_semantics(text: str, roles: tuple[str, ...], expected: bool) -> None:
    assert rules_enforcer(r=text).check(ctx_with(*roles), "r", {}) is expected


def test_generic_checks() -> None:
    e = rules_enforcer(
        admin="is_admin:True", scope="system_scope:all", literal="True:%(network:shared)s",
        owner="project_id:%(project_id)s", net_owner="tenant_id:%(network:tenant_id)s",
        combo="'x':%(name)s", shared="field:networks:shared=True", regex="field:port:device_owner=~^network:",
        text="field:networks:name=blue", roles_list="roles:reader",
    )
    assert e.check(ADMIN, "admin", {}) and not e.check(MEMBER, "admin", {})
    assert e.check(ctx_with("reader", system_scope="all"), "scope", {})
    assert not e.check(MEMBER, "scope", {})
    assert e.check(MEMBER, "literal", {"network:shared": True})
    assert not e.check(MEMBER, "literal", {"network:shared": False})
    assert e.check(MEMBER, "owner", {"project_id": P1}) and not e.check(MEMBER, "owner", {"project_id": P2})
    assert e.check(MEMBER, "net_owner", {"network:tenant_id": P1})
    assert e.check(MEMBER, "combo", {"name": "x"}) and not e.check(MEMBER, "combo", {"name": "y"})
    assert e.check(MEMBER, "shared", {"shared": True})
    assert not e.check(MEMBER, "shared", {"shared": "no", "network:shared": True})  # own attribute wins
    assert e.check(MEMBER, "shared", {"network:shared": True})
    assert e.check(MEMBER, "regex", {"device_owner": "network:dhcp"})
    assert not e.check(MEMBER, "regex", {"device_owner": "compute:nova"})
    assert e.check(MEMBER, "text", {"name": "blue"}) and not e.check(MEMBER, "text", {"name": "red"})
    assert e.check(MEMBER, "roles_list", {})  # list credentials match by membership


@pytest.mark.parametrize(("text", "fragment"), [
    ("role:a and", "rule ends where a check was expected"),
    ("(role:a", "missing ')'"),
    ("role:a)", "unexpected ')'"),
    ("and role:a", "expected a check but found 'and'"),
    ("role:a role:b", "unexpected 'role:b'"),
    ("justtext", "'justtext' is not a check"),
    ("role:", "nothing after ':'"),
    ("%(network:shared)s:True", "left side of a check is never filled"),
    ("not(rule:x)", "left side of a check is never filled"),
    ("field:networks", "field:<collection>:<attribute>=<value>"),
    ("field:port:device_owner=~[", "bad regular expression"),
    ("project_id:%()s", "empty target key"),
    ("http://example.com/check", "remote http checks are not supported"),
])
def test_syntax_errors_are_reported_clearly(text: str, fragment: str) -> None:
    with pytest.raises(PolicySyntaxError) as err:
        Enforcer(defaults={"my_rule": text})
    message = str(err.value)
    assert fragment in message
    assert "'my_rule'" in message and repr(text) in message
    assert err.value.rule == "my_rule"


def test_unknown_reference_and_cycles_are_rejected() -> None:
    with pytest.raises(PolicySyntaxError, match="undefined rule 'rule:nope'"):
        Enforcer(defaults={"a": "role:x or rule:nope"})
    with pytest.raises(PolicySyntaxError, match="cycle: a -> b -> a"):
        Enforcer(defaults={"a": "rule:b", "b": "role:x or rule:a"})
    with pytest.raises(PolicySyntaxError, match="cycle"):
        Enforcer(defaults={"a": "rule:a"})


# ---- policy file ------------------------------------------------------------------------------
def test_yaml_override_changes_outcome(tmp_path: Path) -> None:
    path = write(tmp_path, '"create_network": "rule:admin_only"\n'
                           '"create_network:shared": "rule:admin_or_project_member"\n')
    e = Enforcer(policy_file=path)
    assert not e.check(MEMBER, "create_network", own())
    assert e.check_attribute(MEMBER, "create_network", "shared", own())
    assert e.check(MEMBER, "create_router", own())  # untouched rules keep their defaults
    assert e.overridden == {"create_network", "create_network:shared"}
    assert e.rules["create_network"] == "rule:admin_only"
    assert e.policy_file == str(path)


def test_overriding_a_base_rule_reaches_every_user(tmp_path: Path) -> None:
    path = write(tmp_path, 'project_member: "role:editor and project_id:%(project_id)s"\n')
    e = load_enforcer(str(path))
    assert not e.check(MEMBER, "create_network", own())
    assert not e.check(MEMBER, "delete_router", own())
    editor = ctx_with("editor")
    assert e.check(editor, "create_network", own())
    assert e.check(editor, "update_floatingip", own())


def test_policy_file_may_add_rules_and_is_json_compatible(tmp_path: Path) -> None:
    path = write(tmp_path, '{"my_base": "role:ops", "get_router": "rule:my_base"}', "policy.json")
    e = Enforcer(policy_file=path)
    assert e.check(ctx_with("ops", project=P2), "get_router", own())
    assert not e.check(MEMBER, "get_router", own())


def test_empty_policy_file_means_defaults(tmp_path: Path) -> None:
    e = Enforcer(policy_file=write(tmp_path, "# nothing overridden\n"))
    assert dict(e.rules) == dict(DEFAULT_RULES)


def test_missing_policy_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "policy.yaml"
    with pytest.raises(PolicyFileError, match=str(missing)):
        Enforcer(policy_file=missing)


@pytest.mark.parametrize(("text", "fragment"), [
    ("a: [unclosed\n", "is not valid YAML"),
    ("- role:admin\n", "must be a mapping"),
])
def test_bad_policy_files(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyFileError) as err:
        Enforcer(policy_file=path)
    assert fragment in str(err.value) and str(path) in str(err.value)


def test_malformed_rule_in_file_names_rule_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, '"get_network": "role:admin or"\n')
    with pytest.raises(PolicySyntaxError) as err:
        Enforcer(policy_file=path)
    assert err.value.rule == "get_network" and err.value.source == str(path)
    assert str(path) in str(err.value)
    path = write(tmp_path, '"delete_network":\n')
    with pytest.raises(PolicySyntaxError, match="must be a string"):
        Enforcer(policy_file=path)


# ---- defaults, sample, caching ----------------------------------------------------------------
def test_default_rules_cover_every_action() -> None:
    names = [r.name for r in RULE_DEFAULTS]
    assert len(names) == len(set(names)), "duplicate default rule"
    for member in ("network", "subnet", "port", "security_group", "router", "floatingip"):
        for verb in ("create", "get", "update", "delete"):
            assert f"{verb}_{member}" in DEFAULT_RULES
    for name in ("create_security_group_rule", "get_security_group_rule", "delete_security_group_rule",
                 "add_router_interface", "remove_router_interface", "get_quota", "update_quota",
                 "delete_quota", "get_quota_default", "context_is_admin", "admin_only", "service_api",
                 "admin_or_project_member", "admin_or_project_reader", "admin_or_service", "network_owner",
                 "shared", "external", "create_network:provider:network_type",
                 "get_network:provider:network_type", "create_port:mac_address",
                 "create_port:fixed_ips:ip_address", "create_port:binding:host_id",
                 "get_port:binding:vif_type",
                 "update_port:binding:host_id", "create_router:external_gateway_info:enable_snat",
                 "create_router:external_gateway_info:external_fixed_ips", "create_network:router:external",
                 "get_network:router:external", "create_subnet:segment_id"):
        assert name in DEFAULT_RULES, name


def test_sample_yaml_round_trips(tmp_path: Path) -> None:
    sample = default_enforcer().generate_sample_yaml()
    assert yaml.safe_load(sample) is None  # everything commented out
    for name in DEFAULT_RULES:
        assert f'#"{name}": ' in sample
    assert "# POST  /networks" in sample
    path = write(tmp_path, '"create_network": "rule:admin_only"\n"extra": "role:x"\n')
    custom = Enforcer(policy_file=path)
    active = yaml.safe_load(custom.generate_sample_yaml())
    assert active == {"create_network": "rule:admin_only", "extra": "role:x"}
    reloaded = Enforcer(policy_file=write(tmp_path, custom.generate_sample_yaml(), "again.yaml"))
    assert dict(reloaded.rules) == dict(custom.rules)


def test_default_enforcer_is_shared() -> None:
    assert default_enforcer() is default_enforcer()
    assert load_enforcer(None) is default_enforcer()


def test_rules_are_compiled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    e = Enforcer()

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("rule parsed at request time")

    monkeypatch.setattr(policy_rules, "_compile", boom)
    monkeypatch.setattr(policy_rules, "_tokenize", boom)
    for _ in range(3):
        assert e.check(MEMBER, "create_port", port_target())
        with_ip = port_target(fixed_ips=[{"ip_address": "x"}])
        assert e.check_attribute(ADMIN, "create_port", "fixed_ips", with_ip)


def test_credentials_cache_does_not_leak_between_contexts(enf: Enforcer) -> None:
    target = own()
    for _ in range(2):
        assert enf.check(MEMBER, "update_network", target)
        assert not enf.check(OTHER, "update_network", target)
        assert not enf.check(READER, "update_network", target)
