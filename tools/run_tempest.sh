#!/usr/bin/env bash
# Run real Tempest's network API tests against a lab's CentralRegion (conformance, not `make test`).
#
#   tools/run_tempest.sh                                   # tempest.api.network, in a lab of its own
#   tools/run_tempest.sh 'tempest.api.network.test_ports'  # any regex (several: one run each)
#   STATE_DIR=.lab tools/run_tempest.sh                    # use a lab that is already up (left running)
#
# Tempest lives in its own venv (VENV, default ~/.cache/regionmesh/tempest-venv), installed on first use
# from PyPI with ../shared/tools/real-openstack/constraints.txt when it is there (PIP_UNPINNED=1: fresh).
# A lab is started with --register-pods when STATE_DIR has none running, and stopped at the end
# (KEEP_LAB=1 keeps it). Tempest is told the extension list central advertises, so the tests of
# absent extensions are skipped; EXCLUDE drops tests that need what a lab has not (agents, ...).
# Results: $BASE/log/tempest-<regex>.txt ($BASE defaults to ~/.cache/regionmesh/tempest).
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
VENV="${VENV:-$HOME/.cache/regionmesh/tempest-venv}"
BASE="${BASE:-$HOME/.cache/regionmesh/tempest}"
STATE_DIR="${STATE_DIR:-$BASE/lab}"
PORT_OFFSET="${PORT_OFFSET:-4100}"
CONCURRENCY="${CONCURRENCY:-2}"
REGION=CentralRegion
CONSTRAINTS="${CONSTRAINTS:-$HERE/../shared/tools/real-openstack/constraints.txt}"
RM="$HERE/.venv/bin/regionmesh"
WS="$BASE/workspace"
mkdir -p "$BASE/log"

say() { printf '[run_tempest] %s\n' "$*"; }

# ---- tempest venv
if ! "$VENV/bin/python" -c 'import tempest, neutron_tempest_plugin' 2>/dev/null || [[ ! -x "$VENV/bin/openstack" ]]; then
  say "installing tempest, neutron-tempest-plugin and python-openstackclient into $VENV (log $BASE/log/pip.log)"
  [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
  c=()
  [[ "${PIP_UNPINNED:-0}" != 1 && -f "$CONSTRAINTS" ]] && c=(-c "$CONSTRAINTS")
  "$VENV/bin/pip" install -q -U pip wheel setuptools >"$BASE/log/pip.log" 2>&1
  "$VENV/bin/pip" install "${c[@]}" tempest neutron-tempest-plugin python-openstackclient >>"$BASE/log/pip.log" 2>&1
fi
export PATH="$VENV/bin:$PATH"

# ---- the lab
STARTED=0
if "$RM" lab status --state-dir "$STATE_DIR" >/dev/null 2>&1 && [[ -f "$STATE_DIR/clouds.yaml" ]]; then
  say "using the lab in $STATE_DIR"
else
  say "starting a lab in $STATE_DIR (--port-offset $PORT_OFFSET --register-pods)"
  "$RM" lab up --detach --state-dir "$STATE_DIR" --port-offset "$PORT_OFFSET" --register-pods >"$BASE/log/lab-up.txt" 2>&1 \
    || { cat "$BASE/log/lab-up.txt"; exit 1; }
  STARTED=1
fi
stop_lab() {
  if (( STARTED )) && [[ "${KEEP_LAB:-0}" != 1 ]]; then
    say "stopping the lab"; "$RM" lab down --state-dir "$STATE_DIR" >/dev/null 2>&1 || true
  fi
}
trap stop_lab EXIT

export OS_CLIENT_CONFIG_FILE="$STATE_DIR/clouds.yaml"
read -r AUTH_URL ADMIN_PASSWORD < <("$VENV/bin/python" - "$OS_CLIENT_CONFIG_FILE" <<'EOF'
import sys, yaml
auth = yaml.safe_load(open(sys.argv[1]))["clouds"]["regionmesh-admin"]["auth"]
print(auth["auth_url"], auth["password"])
EOF
)
OSC=(openstack --os-cloud regionmesh-admin --os-region-name "$REGION")

# ---- a "public" external network: central places an external network in exactly one region
AZ="${PUBLIC_AZ:-az1}"
PUB_ID=$("${OSC[@]}" network show public -f value -c id 2>/dev/null || true)
if [[ -z "$PUB_ID" ]]; then
  PUB_ID=$("${OSC[@]}" network create public --external --share --availability-zone-hint "$AZ" \
    --provider-network-type flat --provider-physical-network public -f value -c id)
  "${OSC[@]}" subnet create public-subnet --network "$PUB_ID" \
    --subnet-range 172.24.4.0/24 --gateway 172.24.4.1 --no-dhcp >/dev/null
fi
EXTS=$("${OSC[@]}" extension list --network -f value -c Alias | sort | paste -sd, -)
say "public network $PUB_ID (availability zone $AZ); extensions: $EXTS"

# ---- tempest workspace (names are global in ~/.tempest/workspace.yaml: unique per BASE)
[[ -f "$WS/etc/tempest.conf" ]] || tempest init --name "regionmesh$(echo "$BASE" | tr -c 'A-Za-z0-9\n' '-')" "$WS" >/dev/null
cat >"$WS/etc/tempest.conf" <<EOF
[DEFAULT]
log_file = $WS/tempest.log
debug = ${TEMPEST_DEBUG:-false}

[auth]
admin_username = admin
admin_password = $ADMIN_PASSWORD
admin_project_name = admin
admin_domain_name = Default
use_dynamic_credentials = true
create_isolated_networks = true

[identity]
uri_v3 = $AUTH_URL
auth_version = v3
region = $REGION
v3_endpoint_type = public
disable_ssl_certificate_validation = true

[identity-feature-enabled]
api_v3 = true

[service_available]
neutron = true
nova = false
glance = false
cinder = false
swift = false
keystone = true
placement = false

[network]
region = $REGION
build_timeout = ${BUILD_TIMEOUT:-60}
endpoint_type = publicURL
public_network_id = $PUB_ID
floating_network_name = public
project_network_cidr = 10.100.0.0/16
project_network_mask_bits = 28
shared_physical_network = false

[network-feature-enabled]
api_extensions = $EXTS
ipv6 = true
ipv6_subnet_attributes = true
port_security = true
floating_ips = true

[neutron_plugin_options]
available_type_drivers = local,flat,vlan,vxlan
provider_vlans = physnet1
q_agent = None
create_shared_resources = false

[validation]
run_validation = false

[enforce_scope]
neutron = true
keystone = true
EOF

# Tests that need what a lab has not: Neutron agents. The router-interface ones wait (build_timeout)
# in their cleanup for an L3 agent to make the interface port ACTIVE; the agent ones list agents.
AGENT_TESTS='AgentManagementTestJSON|AgentManagementNegativeTest|L3AgentSchedulerTestJSON|DHCPAgentSchedulers'
L3_AGENT_TESTS='test_router_interface_status|test_router_interface_update_and_remove_gateway_ip'
L3_AGENT_TESTS+='|test_routers\.Routers(IpV6)?Test\.(test_add_multiple_router_interfaces'
L3_AGENT_TESTS+='|test_add_remove_router_interface_with_subnet_id|test_router_interface_port_update_with_fixed_ip'
L3_AGENT_TESTS+='|test_update_delete_extra_route)|test_add_router_interfaces_on_overlapping_subnets_returns_400'
L3_AGENT_TESTS+='|test_router_remove_interface_in_use_returns_409'
EXCLUDE="${EXCLUDE:-$AGENT_TESTS|$L3_AGENT_TESTS}"
REGEXES=("$@")
(( ${#REGEXES[@]} )) || REGEXES=('tempest.api.network')
cd "$WS"
RC=0
for rx in "${REGEXES[@]}"; do
  tag=$(echo "$rx" | tr -c 'A-Za-z0-9_.\n' '_')
  out="$BASE/log/tempest-$tag.txt"
  s=$(date +%s)
  set +e
  tempest run --concurrency "$CONCURRENCY" --regex "$rx" --exclude-regex "$EXCLUDE" >"$out" 2>&1
  rc=$?
  set -e
  (( rc == 0 )) || RC=$rc
  echo "== $rx  rc=$rc  wall=$(( $(date +%s) - s ))s  log=$out"
  grep -E '^\{[0-9]+\} .*\.\.\. FAILED' "$out" | sed 's/^{[0-9]*} /   FAILED /; s/ \[.*//' | sort || true
  grep -E '^ - (Passed|Failed|Skipped|Expected Fail|Unexpected Success)|^Sum of execute' "$out" || tail -20 "$out"
done
exit "$RC"
