"""Control endpoints under ``/_emulator/`` (not part of Graph; loopback, no authentication):

- ``GET  /_emulator/info``            what a client needs (the same document as the info file)
- ``GET  /_emulator/truth[?at=ISO]``  counts and every planted problem, evaluated at ``at``
- ``GET  /_emulator/stats``           requests, statuses, 429s and faults per endpoint
- ``DELETE /_emulator/stats``         reset the statistics
- ``GET|PATCH /_emulator/faults``     latency, 5xx/drop/malformed rates, throttling mode and budgets
- ``GET|POST /_emulator/clock``       read the clock, or move it: ``{"advanceSeconds": 3600}``
- ``POST /_emulator/signIns``         add a sign-in now (see ``tenant/changes.py``)
- ``POST /_emulator/grants``          add a delegated consent grant
- ``POST /_emulator/credentials``     add a secret or certificate to an app or service principal
- ``PATCH /_emulator/tokenLifetimePolicies/{id}``      edit a token-lifetime policy:
  ``{"definition"?: ["{...}"], "displayName"?}``
- ``PATCH /_emulator/conditionalAccessPolicies/{id}``  edit a conditional-access policy:
  ``{"sessionControls"?: {...} | null, "state"?}``
- ``POST /_emulator/federatedTokens`` mint a workload-identity token: ``{"subject"?, "lifetimeSeconds"?}``
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulator.identity.federation import mint_federated_token
from emulator.tenant.changes import (
    ChangeError,
    add_credential,
    inject_grant,
    inject_sign_in,
    update_conditional_access_policy,
    update_token_lifetime_policy,
)
from emulator.throttle import budget_from, real_budgets

if TYPE_CHECKING:
    from emulator.app import Emulator

Handler = Callable[[Request], Awaitable[Response]]


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": "EmulatorControl", "message": message}}, status_code=status)


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ChangeError("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise ChangeError("the request body must be a JSON object")
    return body


def _guarded(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ChangeError as error:
            return _problem(error.status, error.message)
        except ValueError as error:
            return _problem(400, str(error))

    return wrapped


def control_routes(emulator: Emulator) -> list[BaseRoute]:
    async def info(request: Request) -> Response:
        return JSONResponse(emulator.info)

    async def truth(request: Request) -> Response:
        at_text = request.query_params.get("at")
        at = emulator.clock.now()
        if at_text:
            at = datetime.fromisoformat(at_text.replace("Z", "+00:00"))
            if at.tzinfo is None:
                raise ChangeError("'at' needs a time zone (use Z for UTC)")
        return JSONResponse(emulator.truth.document(at))

    async def stats(request: Request) -> Response:
        if request.method == "DELETE":
            emulator.stats.reset()
            return Response(status_code=204)
        return JSONResponse(emulator.stats.snapshot())

    async def faults(request: Request) -> Response:
        if request.method == "PATCH":
            body = await _json_body(request)
            throttling = body.pop("throttling", None)
            budgets = body.pop("throttleBudgets", None)
            profile = emulator.faults.profile.updated(body)
            if throttling is not None or budgets is not None:
                families = sorted(real_budgets(emulator.options.scale.users))
                unknown = sorted(set(budgets or {}) - set(families))
                if unknown:
                    known = ", ".join(families)
                    raise ChangeError(f"unknown throttling family {unknown[0]!r}; known: {known}")
                overrides = {
                    name: budget_from(value, emulator.throttle.budgets.get(name))
                    for name, value in (budgets or {}).items()
                }
                emulator.throttle.configure(throttling or emulator.throttle.mode, overrides)
            emulator.faults.configure(profile)
        return JSONResponse({**emulator.faults.profile.as_json(), "throttling": emulator.throttle.describe()})

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            body = await _json_body(request)
            if "advanceSeconds" in body:
                seconds = body["advanceSeconds"]
                if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                    raise ChangeError(f"'advanceSeconds' must be a number of seconds, got {seconds!r}")
                emulator.clock.advance(float(seconds))
            elif "now" in body:
                instant = datetime.fromisoformat(str(body["now"]).replace("Z", "+00:00"))
                if instant.tzinfo is not None and instant < emulator.clock.now():
                    raise ChangeError(
                        f"the emulator clock only moves forward; {body['now']} is before "
                        f"{emulator.clock.now().isoformat().replace('+00:00', 'Z')}"
                    )
                emulator.clock.advance_to(instant)
            else:
                raise ChangeError('send {"advanceSeconds": N} or {"now": ISO-8601}')
        now = emulator.clock.now()
        return JSONResponse(
            {
                "now": now.isoformat().replace("+00:00", "Z"),
                "start": emulator.clock.start.isoformat(),
            }
        )

    async def sign_ins(request: Request) -> Response:
        sign_in = inject_sign_in(emulator.tenant, await _json_body(request), emulator.clock.now())
        return JSONResponse(
            {k: v for k, v in sign_in.items() if not k.startswith("@emulator.")}, status_code=201
        )

    async def grants(request: Request) -> Response:
        return JSONResponse(inject_grant(emulator.tenant, await _json_body(request)), status_code=201)

    async def credentials(request: Request) -> Response:
        credential = add_credential(emulator.tenant, await _json_body(request), emulator.clock.now())
        return JSONResponse(credential, status_code=201)

    async def token_lifetime_policy(request: Request) -> Response:
        policy_id = request.path_params["id"]
        body = await _json_body(request)
        return JSONResponse(update_token_lifetime_policy(emulator.tenant, policy_id, body))

    async def conditional_access_policy(request: Request) -> Response:
        policy_id = request.path_params["id"]
        body = await _json_body(request)
        now = emulator.clock.now()
        return JSONResponse(update_conditional_access_policy(emulator.tenant, policy_id, body, now))

    async def federated_tokens(request: Request) -> Response:
        body = await _json_body(request)
        issuer = emulator.tenant.registry.federated_issuers[0]
        token = mint_federated_token(
            issuer,
            subject=str(body.get("subject") or emulator.federated_subject),
            issued_at=time.time(),
            lifetime_seconds=int(body.get("lifetimeSeconds", 3600)),
        )
        return JSONResponse({"token": token, "issuer": issuer.issuer}, status_code=201)

    table: list[tuple[str, Handler, list[str]]] = [
        ("/_emulator/info", info, ["GET"]),
        ("/_emulator/truth", truth, ["GET"]),
        ("/_emulator/stats", stats, ["GET", "DELETE"]),
        ("/_emulator/faults", faults, ["GET", "PATCH"]),
        ("/_emulator/clock", clock, ["GET", "POST"]),
        ("/_emulator/signIns", sign_ins, ["POST"]),
        ("/_emulator/grants", grants, ["POST"]),
        ("/_emulator/credentials", credentials, ["POST"]),
        ("/_emulator/tokenLifetimePolicies/{id}", token_lifetime_policy, ["PATCH"]),
        ("/_emulator/conditionalAccessPolicies/{id}", conditional_access_policy, ["PATCH"]),
        ("/_emulator/federatedTokens", federated_tokens, ["POST"]),
    ]
    return [Route(path, _guarded(handler), methods=methods) for path, handler, methods in table]
