"""A tiny HTTP caller for in-process API tests (one identity per instance)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

PROJECT_A = "a" * 32
PROJECT_B = "b" * 32


class Caller:
    """One identity talking to the API (noauth headers stand in for a token)."""

    def __init__(self, client: TestClient, project: str | None = None, roles: str = "member,reader") -> None:
        self.client = client
        self.headers = (
            {}
            if project is None
            else {"X-Project-Id": project, "X-Roles": roles, "X-User-Id": f"user-{project[:4]}"}
        )

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(f"/v2.0/{path}", headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> Any:
        return self.client.post(
            f"/v2.0/{path}", json=body, headers={**self.headers, **kw.pop("headers", {})}, **kw
        )

    def put(self, path: str, body: Any, **kw: Any) -> Any:
        return self.client.put(
            f"/v2.0/{path}", json=body, headers={**self.headers, **kw.pop("headers", {})}, **kw
        )

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(f"/v2.0/{path}", headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def make(self, member: str, collection: str, **attrs: Any) -> dict[str, Any]:
        resp = self.post(collection, {member: attrs})
        assert resp.status_code == 201, resp.text
        return resp.json()[member]  # type: ignore[no-any-return]


def error_type(resp: Any) -> str:
    return resp.json()["NeutronError"]["type"]  # type: ignore[no-any-return]
