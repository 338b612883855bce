"""A small client for the Admin API v1.0 (pods, routings, jobs) over a keystoneauth session.

The session carries the authentication (OSC builds it from ``--os-cloud``/``OS_*``), so every request
gets the caller's token. The endpoint is the catalog's ``multiregion-networking`` entry for the
chosen region and interface, unless an endpoint override is given. Failures become
``AdminAPIError`` (an ``osc_lib`` ``CommandError``) whose message says what went wrong and what
to do about it; OSC prints it and exits non-zero.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from keystoneauth1 import exceptions as ksa_exc
from keystoneauth1 import session as ksa_session
from osc_lib import exceptions as osc_exc

SERVICE_TYPE: Final = "multiregion-networking"
API_PREFIX: Final = "/v1.0"
OVERRIDE_OPTION: Final = "--os-multiregion-networking-endpoint-override"
LIST_COMMAND: Final[dict[str, str]] = {
    "pod": "openstack multiregion networking pod list",
    "routing": "openstack multiregion networking routing list",
    "job": "openstack multiregion networking job list",
}


class AdminAPIError(osc_exc.CommandError):
    """A failed Admin API call, with a message meant for the person at the terminal."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def server_message(body: str) -> str:
    """The message of an Admin API error body (``{"<type>": {"message", "code"}}``), else the raw text."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body.strip()[:300]
    if isinstance(doc, dict):
        for value in doc.values():
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return str(value["message"])
    return body.strip()[:300]


def describe_failure(status: int, message: str, *, action: str, kind: str | None = None,
                     ref: str | None = None) -> str:
    """The CLI message for an HTTP error: what happened, the server's words, and what to do next."""
    said = message.rstrip(".") if message else "no details given"
    if status == 401:
        return (f"Failed to {action}: not authenticated (HTTP 401: {said}). Check the cloud's credentials "
                "(--os-cloud, or the OS_* variables) and that the token has not expired.")
    if status == 403:
        return (f"Failed to {action}: forbidden (HTTP 403: {said}). The Admin API is for cloud administrators: "
                "use an account with the admin role (in the lab: --os-cloud regionmesh-admin).")
    if status == 404 and kind is not None and ref is not None:
        return f"{kind.capitalize()} {ref!r} not found (HTTP 404: {said}).{list_hint(kind)}"
    if status == 404:
        return f"Failed to {action}: not found (HTTP 404: {said})."
    if status == 409:
        return f"Failed to {action}: conflict (HTTP 409: {said}). Show the existing entry, or change the request."
    if status in (400, 422):
        return f"Failed to {action}: the request was refused (HTTP {status}: {said}). Check the options given."
    if status == 503:
        return f"Failed to {action}: the service is unavailable (HTTP 503: {said}). Try again shortly."
    if status >= 500:
        return f"Failed to {action}: the Admin API failed (HTTP {status}: {said}). See the service's log."
    return f"Failed to {action} (HTTP {status}: {said})."


def list_hint(kind: str) -> str:
    return f" List them with `{LIST_COMMAND[kind]}`." if kind in LIST_COMMAND else ""


def api_base(endpoint: str) -> str:
    """The v1.0 root for an endpoint, whether the catalog lists the root or ``…/v1.0`` (the anchor's)."""
    base = endpoint.rstrip("/")
    return base if base.endswith(API_PREFIX) else base + API_PREFIX


class AdminClient:
    """Pods, resource routings and jobs of the Admin API, through a keystoneauth session."""

    def __init__(self, session: ksa_session.Session, *, region_name: str | None = None,
                 interface: str | None = None, endpoint_override: str | None = None) -> None:
        self.session = session
        self.region_name = region_name or None
        self.interface = interface or "public"
        self.endpoint_override = endpoint_override or None
        self._base: str | None = None

    # ---- plumbing -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The Admin API's v1.0 root: the override, else the catalog's entry (looked up once)."""
        if self._base is None:
            endpoint = self.endpoint_override or self._catalog_endpoint()
            self._base = api_base(endpoint)
        return self._base

    def _catalog_endpoint(self) -> str:
        try:
            endpoint = self.session.get_endpoint(service_type=SERVICE_TYPE, interface=self.interface,
                                                 region_name=self.region_name)
        except ksa_exc.EndpointNotFound:
            endpoint = None
        if endpoint:
            return str(endpoint)
        where = self._regions_offering()
        region = f"region {self.region_name!r}" if self.region_name else "any region"
        hint = (f" It is registered in: {', '.join(where)} — run with --os-region-name {where[0]}, or"
                if where else " Register the Admin API in the catalog, or")
        raise AdminAPIError(f"The service catalog has no {SERVICE_TYPE} endpoint (interface {self.interface}) in "
                            f"{region}.{hint} give its URL with {OVERRIDE_OPTION}.")

    def _regions_offering(self) -> list[str]:
        """The regions whose catalog lists the Admin API on our interface (for the error message)."""
        get_access = getattr(self.session.auth, "get_access", None)
        try:
            access = get_access(self.session) if get_access is not None else None
            found = access.service_catalog.get_endpoints_data(service_type=SERVICE_TYPE,
                                                             interface=self.interface) if access else {}
        except Exception:  # only a hint for an error message: never hide the real error behind it
            return []
        regions = {e.region_name for entries in found.values() for e in entries if e.region_name}
        return sorted(regions)

    def request(self, method: str, path: str, *, action: str, body: Any = None,
                query: Mapping[str, Any] | None = None, kind: str | None = None, ref: str | None = None) -> Any:
        """One call; the decoded JSON body (None when empty), or ``AdminAPIError`` saying what to do."""
        url = self.base_url + path
        params = {k: v for k, v in (query or {}).items() if v is not None}
        kwargs: dict[str, Any] = {"headers": {"Accept": "application/json"}, "raise_exc": False}
        if params:
            kwargs["params"] = params
        if body is not None:
            kwargs["json"] = body
        try:
            response = self.session.request(url, method, **kwargs)
        except ksa_exc.ConnectionError as error:
            raise AdminAPIError(f"Failed to {action}: cannot reach the Admin API at {self.base_url} ({error}). "
                                f"Check that the service is running and that the catalog entry (or "
                                f"{OVERRIDE_OPTION}) points at it.") from error
        if response.status_code >= 400:
            raise AdminAPIError(describe_failure(response.status_code, server_message(response.text),
                                                 action=action, kind=kind, ref=ref), response.status_code)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise AdminAPIError(f"Failed to {action}: the Admin API at {self.base_url} answered something that is "
                                "not JSON; is the endpoint right?") from error

    def _member(self, doc: Any, key: str, action: str) -> dict[str, Any]:
        if not isinstance(doc, dict) or not isinstance(doc.get(key), dict):
            raise AdminAPIError(f"Failed to {action}: the answer has no {key!r} object; is the endpoint right?")
        return dict(doc[key])

    def _collect(self, path: str, key: str, action: str, query: Mapping[str, Any], *,
                 limit: int | None) -> list[dict[str, Any]]:
        """One page when ``limit`` is given; else every page, following the ``<key>_links`` next markers."""
        params = dict(query)
        params["limit"] = limit
        out: list[dict[str, Any]] = []
        while True:
            doc = self.request("GET", path, action=action, query=params)
            if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
                raise AdminAPIError(f"Failed to {action}: the answer has no {key!r} list; is the endpoint right?")
            out.extend(doc[key])
            marker = next_marker(doc.get(f"{key}_links"))
            if limit is not None or marker is None or not doc[key]:
                return out
            params["marker"] = marker

    # ---- pods ---------------------------------------------------------------------------------
    def list_pods(self) -> list[dict[str, Any]]:
        doc = self.request("GET", "/pods", action="list pods")
        if not isinstance(doc, dict) or not isinstance(doc.get("pods"), list):
            raise AdminAPIError("Failed to list pods: the answer has no 'pods' list; is the endpoint right?")
        return list(doc["pods"])

    def get_pod(self, pod_id: str) -> dict[str, Any]:
        doc = self.request("GET", f"/pods/{pod_id}", action="show the pod", kind="pod", ref=pod_id)
        return self._member(doc, "pod", "show the pod")

    def find_pod(self, ref: str) -> dict[str, Any]:
        """A pod by ID, or else by region name (the anchor took IDs only)."""
        try:
            return self.get_pod(ref)
        except AdminAPIError as error:
            if error.status != 404:
                raise
            for pod in self.list_pods():
                if pod.get("region_name") == ref:
                    return pod
            raise AdminAPIError(f"Pod {ref!r} not found: no pod has that ID or region name (HTTP 404)."
                                + list_hint("pod"), 404) from None

    def create_pod(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        doc = self.request("POST", "/pods", action="create the pod", body={"pod": dict(fields)})
        return self._member(doc, "pod", "create the pod")

    def update_pod(self, pod_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        doc = self.request("PUT", f"/pods/{pod_id}", action="update the pod", body={"pod": dict(fields)},
                           kind="pod", ref=pod_id)
        return self._member(doc, "pod", "update the pod")

    def delete_pod(self, pod_id: str) -> None:
        self.request("DELETE", f"/pods/{pod_id}", action="delete the pod", kind="pod", ref=pod_id)

    # ---- routings -----------------------------------------------------------------------------
    def list_routings(self, filters: Mapping[str, Any], *, limit: int | None = None,
                      marker: str | None = None) -> list[dict[str, Any]]:
        query = {**filters, "marker": marker}
        return self._collect("/routings", "routings", "list resource routings", query, limit=limit)

    def get_routing(self, routing_id: str) -> dict[str, Any]:
        doc = self.request("GET", f"/routings/{routing_id}", action="show the resource routing", kind="routing",
                           ref=routing_id)
        return self._member(doc, "routing", "show the resource routing")

    def create_routing(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        doc = self.request("POST", "/routings", action="create the resource routing", body={"routing": dict(fields)})
        return self._member(doc, "routing", "create the resource routing")

    def update_routing(self, routing_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        doc = self.request("PUT", f"/routings/{routing_id}", action="update the resource routing",
                           body={"routing": dict(fields)}, kind="routing", ref=routing_id)
        return self._member(doc, "routing", "update the resource routing")

    def delete_routing(self, routing_id: str) -> None:
        self.request("DELETE", f"/routings/{routing_id}", action="delete the resource routing", kind="routing",
                     ref=routing_id)

    # ---- jobs ---------------------------------------------------------------------------------
    def job_schemas(self, *, action: str = "read the job types") -> dict[str, list[str]]:
        """Job type → its resource keys, in order (``GET /jobs/schemas``)."""
        doc = self.request("GET", "/jobs/schemas", action=action)
        schemas = doc.get("schemas") if isinstance(doc, dict) else None
        if not isinstance(schemas, list):
            raise AdminAPIError(f"Failed to {action}: the answer has no 'schemas' list; is the endpoint right?")
        return {str(s["type"]): [str(k) for k in s.get("resource", [])] for s in schemas
                if isinstance(s, dict) and "type" in s}

    def list_jobs(self, filters: Mapping[str, Any], *, limit: int | None = None,
                  marker: str | None = None) -> list[dict[str, Any]]:
        query = {**filters, "marker": marker}
        return self._collect("/jobs", "jobs", "list jobs", query, limit=limit)

    def get_job(self, job_id: str) -> dict[str, Any]:
        doc = self.request("GET", f"/jobs/{job_id}", action="show the job", kind="job", ref=job_id)
        return self._member(doc, "job", "show the job")

    def create_job(self, job_type: str, project_id: str, resource: Mapping[str, Any]) -> dict[str, Any]:
        body = {"job": {"type": job_type, "project_id": project_id, "resource": dict(resource)}}
        doc = self.request("POST", "/jobs", action="create the job", body=body)
        return self._member(doc, "job", "create the job")

    def redo_job(self, job_id: str) -> dict[str, Any] | None:
        """Run the job again; the job as it now stands (the anchor answered with an empty body)."""
        doc = self.request("PUT", f"/jobs/{job_id}", action="redo the job", kind="job", ref=job_id)
        return dict(doc["job"]) if isinstance(doc, dict) and isinstance(doc.get("job"), dict) else None

    def delete_job(self, job_id: str) -> None:
        self.request("DELETE", f"/jobs/{job_id}", action="delete the job", kind="job", ref=job_id)


def next_marker(links: Any) -> str | None:
    """The ``marker`` of a ``rel: next`` link, if any (we re-ask our own endpoint, not the link's host)."""
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("rel") == "next" and isinstance(link.get("href"), str):
            markers = parse_qs(urlsplit(link["href"]).query).get("marker")
            if markers:
                return markers[-1]
    return None
