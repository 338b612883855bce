"""Errors of the central registry (pods, routings, deleting markers).

Each subclasses a ``regionmesh.network.exceptions`` base, so the HTTP status is derived once at the
edge (NotFound → 404, Conflict → 409, BadRequest → 400, NotAuthorized → 403). Messages keep the
anchor's (Tricircle Admin API) wording so operators and its client recognise them.
"""

from __future__ import annotations

from regionmesh.network.exceptions import BadRequest, Conflict, NotFound


class UnprocessableEntity(BadRequest):
    """A well-formed request whose values cannot be used; the Admin API answers 422 (the anchor did)."""

    message = "%(msg)s"


class InvalidRequest(BadRequest):
    """A request the caller must change; built with the final text."""

    message = "%(msg)s"


class RequestBodyNotFound(BadRequest):
    message = "Request body not found"


# ---- pods ---------------------------------------------------------------------------------------
class PodNotFound(NotFound):
    message = "Pod not found"


class PodRegionNotFound(NotFound):
    message = "Pod for region or availability zone %(name)s not found"


class PodRegionRequired(UnprocessableEntity):
    message = "Valid region_name is required for %(kind)s"


class TopRegionExists(Conflict):
    message = "Top region already exists"


class PodDuplicatesTopRegion(Conflict):
    message = "Pod region name duplicated with the top region name"


class PodExists(Conflict):
    message = "Record already exists"


class PodInUse(Conflict):
    message = "Pod %(pod_id)s is in use by %(count)d resource routing(s)"


class MultiplePodsFound(BadRequest):
    message = "Multiple pods with the same az_name are found"


# ---- routings -----------------------------------------------------------------------------------
class RoutingNotFound(NotFound):
    message = "Resource routing not found"


class RoutingExists(Conflict):
    message = "Resource routing already exists"


class RoutingBottomMismatch(Conflict):
    message = ("Resource routing for %(resource_type)s %(top_id)s in pod %(pod_id)s already points to "
               "%(existing)s, not %(bottom_id)s")


class InvalidResourceType(BadRequest):
    message = "There is no such resource type"


class FieldEmpty(BadRequest):
    message = "Field %(field)s can not be empty"


class RoutingPodMissing(BadRequest):
    message = "The pod %(pod_id)s doesn't exist"


class InvalidMarker(BadRequest):
    message = "Marker %(marker)s is an invalid ID"


# ---- deleting markers ---------------------------------------------------------------------------
class ResourceIsInDeleting(Conflict):
    """OQ-05: ordinary clients get 409 while a resource is being deleted (never a 2xx)."""

    message = "resource is in deleting now"


class ResourceNotFoundWhileDeleting(NotFound):
    """OQ-05: a region's lazy lookup gets 404 so that it does not re-create the resource."""

    message = "%(resource_type)s %(resource_id)s could not be found."

