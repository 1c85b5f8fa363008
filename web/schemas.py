"""The request schemas of the JSON endpoints (read with ``web.json_input.json_body``).

They check the envelope only: types, ranges and which fields exist. What a flow definition means
stays the engine's to say; names, numbers and routing are still checked by the services.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, RootModel, StrictInt, StrictStr

from models.base import MAX_ID
from web.json_input import Schema

Text = Annotated[StrictStr, Field(max_length=10_000)]
ShortText = Annotated[StrictStr, Field(max_length=1_000)]
Definition = dict[StrictStr, Any]
RowId = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
Version = Annotated[StrictInt, Field(ge=0, le=MAX_ID)]
ShortScalar = Annotated[StrictStr, Field(max_length=200)] | Annotated[StrictInt, Field(ge=0)]


# --- /auth -------------------------------------------------------------------------------------

class TokenRequest(Schema):
    """``POST /auth/token``."""

    email: Annotated[StrictStr, Field(max_length=254)] = ""
    password: Annotated[StrictStr, Field(max_length=1_024)] = ""


# --- /api/flows and the designer ----------------------------------------------------------------

class FlowCreate(Schema):
    """``POST /api/flows``."""

    name: ShortText = ""
    description: Text | None = None
    definition: Definition | None = None
    template: ShortText | None = None


class FlowUpdate(Schema):
    """``PUT /api/flows/<id>``: rename, test users and/or the draft (with the version it was edited from)."""

    name: ShortText | None = None
    description: Text | None = None
    test_users: Annotated[list[ShortText], Field(max_length=200)] | None = None
    definition: Definition | None = None
    draft_version: Version | None = None


class DefinitionBody(Schema):
    """``POST /api/flows/<id>/validate`` (optional) and the designer's ``/validate`` and ``/layout``."""

    definition: Definition | None = None


class PublishBody(Schema):
    """``POST /api/flows/<id>/publish``."""

    message: Text = ""


class RollbackBody(Schema):
    """``POST /api/flows/<id>/rollback``."""

    revision: RowId


class ArchiveBody(Schema):
    """``POST /api/flows/<id>/archive``."""

    archived: bool = True


class DraftSave(Schema):
    """The designer's ``POST /flows/<id>/draft``."""

    definition: Definition
    draft_version: Version
    force: bool = False


# --- /phone -----------------------------------------------------------------------------------

class Routing(Schema):
    """A number's routing fields (at the top level of a body, or under ``routing``)."""

    mode: ShortText | None = None
    flowId: RowId | ShortText | None = None  # noqa: N815  (API.md's names)
    messagingFlowId: RowId | ShortText | None = None  # noqa: N815  (a flow serving messaging, or null)
    assignedUsers: Annotated[list[ShortScalar], Field(max_length=500)] | None = None  # noqa: N815
    smsAutoReply: Text | None = None  # noqa: N815
    friendlyName: ShortText | None = None  # noqa: N815


class RoutingBody(Routing):
    """``POST /phone/numbers/<id>/routing``."""

    routing: Routing | None = None


class BuyNumber(RoutingBody):
    """``POST /phone/numbers``."""

    phoneNumber: ShortScalar | None = None  # noqa: N815
    areaCode: ShortScalar | None = None  # noqa: N815
    contains: ShortScalar | None = None
    country: ShortScalar | None = None


class ImportNumber(RoutingBody):
    """``POST /phone/numbers/add``."""

    phoneNumber: ShortScalar | None = None  # noqa: N815
    sid: ShortScalar | None = None


# --- /upstream --------------------------------------------------------------------------------

class SaveIntegration(Schema):
    """``POST /upstream/save-integration``."""

    type: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    name: ShortText | None = None
    # Each provider checks its own config fields (names, types, formats) in ``normalise``.
    config: Any = None


class TestParams(RootModel[dict[StrictStr, ShortScalar | None]]):
    """``POST /upstream/test/<integration>/<operation>``: the operation's parameters (checked by the provider)."""

    model_config = ConfigDict(strict=True, frozen=True)


# --- /api/flows/<id>/executions ------------------------------------------------------------------

class ExecutionStart(Schema):
    """``POST /api/flows/<id>/executions``: the contact's and the org's numbers, the flow's
    ``flow.data``, and the channel (a call or a text conversation; omitted: the flow's drawing decides)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    to: Annotated[StrictStr, Field(max_length=64)]
    from_: Annotated[StrictStr, Field(max_length=64, alias="from")]
    parameters: dict[Annotated[StrictStr, Field(max_length=64)], Any] = {}
    channel: Literal["voice", "messaging"] | None = None
