"""RegionMesh against a **real Keystone** (issue: the lab, identity and command lines).

Keystone (from PyPI, pinned by shared/tools/real-openstack/constraints.txt when present) is installed
into a cached virtualenv, configured on SQLite with fernet tokens, bootstrapped, and served by
gunicorn on loopback. RegionMesh's central Neutron API validates its tokens through the same path it
uses with the lab identity service, and is registered in Keystone's catalog; openstacksdk and the
`openstack` CLI then find it there.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openstack
import pytest

from regionmesh.api.server import ThreadedServer, build_neutron
from regionmesh.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT.parent / "shared" / "tools" / "real-openstack" / "constraints.txt"
VENV = Path(os.environ.get("REGIONMESH_KEYSTONE_VENV", Path.home() / ".cache" / "regionmesh" / "keystone-venv"))
ADMIN_PASSWORD = "real-keystone-admin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ensure_venv() -> Path:
    """Keystone in its own virtualenv (its dependencies must not meet ours)."""
    if (VENV / "bin" / "keystone-manage").exists() and (VENV / "bin" / "gunicorn").exists():
        return VENV
    VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    cmd = [str(VENV / "bin" / "pip"), "install", "-q", "keystone==30.*", "gunicorn"]
    if CONSTRAINTS.exists():
        cmd += ["-c", str(CONSTRAINTS)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        shutil.rmtree(VENV, ignore_errors=True)
        message = f"could not install Keystone from PyPI: {proc.stderr[-500:]}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return VENV


@pytest.fixture(scope="module")
def keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    venv = _ensure_venv()
    base = tmp_path_factory.mktemp("keystone")
    for sub in ("fernet", "cred", "wsgi"):
        (base / sub).mkdir()
    port = _free_port()
    url = f"http://127.0.0.1:{port}/v3"
    (base / "keystone.conf").write_text(f"""[database]
connection = sqlite:///{base}/keystone.sqlite
[token]
provider = fernet
expiration = 3600
[fernet_tokens]
key_repository = {base}/fernet
[credential]
key_repository = {base}/cred
[identity]
password_hash_rounds = 4
[cache]
enabled = true
backend = dogpile.cache.memory
""")
    (base / "wsgi" / "regionmesh_keystone_wsgi.py").write_text(
        "import sys\nsys.argv = sys.argv[:1]\nfrom keystone.wsgi.api import application  # noqa\n")
    manage = [str(venv / "bin" / "keystone-manage"), "--config-file", str(base / "keystone.conf")]
    for step in (["db_sync"], ["fernet_setup", "--keystone-user", "root", "--keystone-group", "root"],
                 ["credential_setup", "--keystone-user", "root", "--keystone-group", "root"],
                 ["bootstrap", "--bootstrap-password", ADMIN_PASSWORD, "--bootstrap-public-url", url + "/",
                  "--bootstrap-region-id", "CentralRegion"]):
        subprocess.run(manage + step, check=True, capture_output=True, timeout=300)
    log = (base / "gunicorn.log").open("w")
    proc = subprocess.Popen([str(venv / "bin" / "gunicorn"), "-b", f"127.0.0.1:{port}", "-w", "1", "--threads", "1",
                             "-k", "gthread", "--pythonpath", str(base / "wsgi"),
                             "regionmesh_keystone_wsgi:application"],
                            cwd=base, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "OS_KEYSTONE_CONFIG_DIR": str(base)})
    try:
        deadline = time.monotonic() + 120
        while True:  # waiting for the listener (bounded)
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Keystone did not start: {(base / 'gunicorn.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def _admin_token(url: str) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": ADMIN_PASSWORD}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    resp = httpx.post(f"{url}/auth/tokens", json=body)
    resp.raise_for_status()
    return resp.headers["X-Subject-Token"]


def _create(url: str, token: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = httpx.post(f"{url}/{kind}s", json={kind: body}, headers={"X-Auth-Token": token})
    assert resp.status_code == 201, resp.text
    return resp.json()[kind]  # type: ignore[no-any-return]


def test_central_api_with_a_real_keystone(keystone: str, tmp_path: Path) -> None:
    settings = load_settings(env={}, database__url=f"sqlite:///{tmp_path}/central.db", auth__strategy="keystone",
                             auth__auth_url=keystone)
    server = ThreadedServer(build_neutron(settings)).start()
    try:
        token = _admin_token(keystone)
        service = _create(keystone, token, "service", {"type": "network", "name": "regionmesh"})
        _create(keystone, token, "endpoint", {"service_id": service["id"], "interface": "public",
                                              "region_id": "CentralRegion", "url": server.url})
        project = _create(keystone, token, "project", {"name": "demo", "domain_id": "default"})
        user = _create(keystone, token, "user", {"name": "demo", "password": "demo-pw", "domain_id": "default"})
        roles = httpx.get(f"{keystone}/roles", params={"name": "member"}, headers={"X-Auth-Token": token}).json()
        member = roles["roles"][0]["id"]
        httpx.put(f"{keystone}/projects/{project['id']}/users/{user['id']}/roles/{member}",
                  headers={"X-Auth-Token": token}).raise_for_status()

        demo = openstack.connect(auth_url=keystone, username="demo", password="demo-pw", project_name="demo",
                                 user_domain_id="default", project_domain_id="default", region_name="CentralRegion")
        net = demo.network.create_network(name="real-keystone-net")
        assert net.project_id == project["id"]
        assert [n.name for n in demo.network.networks()] == ["real-keystone-net"]
        admin = openstack.connect(auth_url=keystone, username="admin", password=ADMIN_PASSWORD,
                                  project_name="admin", user_domain_id="default", project_domain_id="default",
                                  region_name="CentralRegion")
        assert admin.network.get_network(net.id).project_id == project["id"]
        # a member may not set admin-only attributes; another project's network is invisible
        with pytest.raises(openstack.exceptions.ForbiddenException):
            demo.network.create_network(name="shared", is_shared=True)
        admin_net = admin.network.create_network(name="admins-own")
        with pytest.raises(openstack.exceptions.NotFoundException):
            demo.network.get_network(admin_net.id)
        # missing and bad tokens
        assert httpx.get(f"{server.url}/v2.0/networks").status_code == 401
        assert httpx.get(f"{server.url}/v2.0/networks", headers={"X-Auth-Token": "nope"}).status_code == 401
        # and the real CLI finds the endpoint in the real catalog
        osc = shutil.which("openstack", path=str(Path(sys.executable).parent))
        assert osc
        env = {**os.environ, "OS_AUTH_URL": keystone, "OS_USERNAME": "demo", "OS_PASSWORD": "demo-pw",
               "OS_PROJECT_NAME": "demo", "OS_USER_DOMAIN_ID": "default", "OS_PROJECT_DOMAIN_ID": "default",
               "OS_REGION_NAME": "CentralRegion", "OS_IDENTITY_API_VERSION": "3"}
        listed = subprocess.run([osc, "network", "list", "-f", "value", "-c", "Name"], capture_output=True,
                                text=True, env=env, timeout=120)
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.split() == ["real-keystone-net"]
    finally:
        server.stop()
