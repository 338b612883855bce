"""In-process HTTP fixtures: the real ASGI app over httpx (Starlette's TestClient), SQLite per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from apiclient import PROJECT_A, PROJECT_B, Caller
from starlette.testclient import TestClient

from regionmesh.api.server import build_neutron
from regionmesh.config import load_settings


@pytest.fixture
def settings(tmp_path: Any) -> Any:
    return load_settings(env={}, database__url=f"sqlite:///{tmp_path}/neutron.db", auth__strategy="noauth")


@pytest.fixture
def app(settings: Any) -> Any:
    return build_neutron(settings)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def admin(client: TestClient) -> Caller:
    return Caller(client)


@pytest.fixture
def alice(client: TestClient) -> Caller:
    return Caller(client, PROJECT_A)


@pytest.fixture
def bob(client: TestClient) -> Caller:
    return Caller(client, PROJECT_B)


@pytest.fixture
def alice_reader(client: TestClient) -> Caller:
    return Caller(client, PROJECT_A, roles="reader")
