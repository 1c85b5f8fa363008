"""JSON API for vendor credentials (API.md "Upstream"): save, inspect, test and remove the integration.

Bearer-JWT only, so exempt from CSRF like ``web.api_auth``. Admins only: the config decides
where the organisation's calls and money go.
"""

from __future__ import annotations

import logging

from flask import Blueprint, g, jsonify
from sqlalchemy.exc import IntegrityError

from extensions import csrf, db
from upstream.errors import (
    CredentialsRejected,
    IntegrationConfigError,
    NotConnected,
    SecretsUnreadable,
    UnknownIntegrationType,
    UpstreamError,
)
from upstream.integrations import (
    delete_integration,
    get_integration,
    public_summary,
    save_integration,
)
from upstream.provider_cache import get_provider_for
from web.api_auth import api_auth
from web.errors import ApiError
from web.json_input import NoBody, json_body
from web.schemas import SaveIntegration, TestParams

bp = Blueprint("upstream", __name__, url_prefix="/upstream")
csrf.exempt(bp)
log = logging.getLogger("phonetree.web.upstream")


def upstream_api_error(err: UpstreamError, prefix: str = "") -> ApiError:
    """502 ``upstream_error`` carrying the vendor's code, status and message."""
    return ApiError(502, "upstream_error", f"{prefix}{err.message}",
                    upstream={"code": err.code, "status": err.status, "message": err.vendor_message})


@bp.post("/save-integration")
@api_auth("admin")
def save():
    """Create or replace the organisation's integration after the vendor accepted the credentials."""
    body = json_body(SaveIntegration)
    try:
        integration = save_integration(g.org, body.type, body.name, body.config)
        db.session.commit()
    except UnknownIntegrationType as err:
        raise ApiError(400, "unknown_integration_type", err.message, field="type") from None
    except CredentialsRejected as err:
        db.session.rollback()
        extra = {"upstream": {"code": err.upstream.code, "status": err.upstream.status}} if err.upstream else {}
        raise ApiError(400, "invalid_credentials", err.message, field=err.field, **extra) from None
    except IntegrationConfigError as err:
        db.session.rollback()
        raise ApiError(400, "invalid_config", err.message, field=err.field) from None
    except UpstreamError as err:
        db.session.rollback()
        raise upstream_api_error(err, "Could not check the credentials with Twilio, so nothing was saved. ") from None
    except IntegrityError:
        db.session.rollback()
        raise ApiError(409, "conflict", "Someone else saved this organisation's integration at the same moment; "
                                        "nothing was saved. Try again.") from None
    return jsonify(public_summary(integration))


@bp.get("/integration")
@api_auth("admin")
def show():
    """The organisation's integration (public config and which secrets are set)."""
    integration = get_integration(g.org)
    if integration is None:
        raise ApiError(404, "not_connected", NotConnected().message)
    return jsonify(public_summary(integration))


@bp.post("/delete-integration")
@api_auth("admin")
def delete():
    """Disconnect: forget the integration and its secrets (numbers stay in the vendor's account)."""
    json_body(NoBody, optional=True)
    if not delete_integration(g.org):
        raise ApiError(404, "not_connected", NotConnected().message)
    db.session.commit()
    return jsonify({"deleted": True})


@bp.post("/test/<integration>/<operation>")
@api_auth("admin")
def test(integration: str, operation: str):
    """Run one read-only operation (listPhoneNumbers, searchAvailableNumbers, fetchAccount, fetchNumber)."""
    params = json_body(TestParams, optional=True).root
    try:
        provider = get_provider_for(g.org, integration)
        result = provider.run_test_operation(operation, params)
    except UnknownIntegrationType as err:
        raise ApiError(400, "unknown_integration_type", err.message) from None
    except NotConnected as err:
        raise ApiError(404, "not_connected", err.message) from None
    except SecretsUnreadable as err:
        raise ApiError(409, "secrets_unreadable", str(err)) from None
    except IntegrationConfigError as err:
        code = "unknown_operation" if err.field == "operation" else "invalid_params"
        raise ApiError(400, code, err.message, field=err.field) from None
    except UpstreamError as err:
        raise upstream_api_error(err) from None
    return jsonify({"ok": True, "result": result})
