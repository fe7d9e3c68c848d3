"""Who may change state: Google-signed OIDC ID tokens, verified with google-auth, as a FastAPI dependency.

Cloud Scheduler and the Pub/Sub push subscription send ``Authorization: Bearer <ID token>`` for the
service account and audience Terraform sets. With auth on, every route but the health probes needs a
valid token (reads show the night's predictions too); Cloud Run's own invoker check is off, as it
strips the token's signature, so this is the gate. Auth may be disabled on loopback only
(`check_serving_security`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from starlette.routing import Route

from shared.errors import ConfigurationError, NbaPropsError
from shared.logging import get_logger
from shared.settings import AuthMode, Settings

log = get_logger(__name__)

GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
# Google's tokens carry iat = now; a few seconds of skew between clocks must not fail a call.
CLOCK_SKEW_S = 10
# Google rotates its signing keys over days and serves the certificates with a max-age of hours.
CERTS_TTL_S = 300.0
CERTS_FETCH_TIMEOUT_S = 10.0
# A token naming a key id the cached certificates lack forces a fetch at most this often: anyone can
# send such a token, so otherwise every unauthenticated request could make the service fetch.
CERTS_REFETCH_MIN_INTERVAL_S = 30.0
# The only routes served without a token: the platform's health probes, which carry none.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})


class AuthError(NbaPropsError):
    """The caller could not be let in; `status_code` says why in HTTP terms."""

    status_code = 401
    code = "unauthenticated"


class Unauthenticated(AuthError):
    """No token, or one that is not a valid Google ID token for this service (401)."""


class PermissionDenied(AuthError):
    """A valid token of an identity that may not call this service (403)."""

    status_code = 403
    code = "forbidden"


class AuthUnavailable(AuthError):
    """Google's certificates could not be fetched: retrying later may succeed (503)."""

    status_code = 503
    code = "auth_unavailable"


@dataclass(frozen=True)
class Caller:
    """Who made a request: the verified email, or nobody when auth is disabled (loopback only)."""

    email: str | None
    subject: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.email is not None


ANONYMOUS = Caller(email=None)


class CachingCertsRequest:
    """A google-auth ``Request`` that caches GET answers for a while.

    ``verify_token`` downloads the certificates on every call; on the worker's hot path that would be
    one HTTP round trip per prediction. Answers are kept for ``ttl_s``; `invalidate` drops them when a
    token names a key id the cached certificates lack (Google rotated its keys), at most once per
    ``refetch_min_interval_s``.
    """

    def __init__(
        self,
        inner: Any = None,
        *,
        ttl_s: float = CERTS_TTL_S,
        timeout_s: float = CERTS_FETCH_TIMEOUT_S,
        refetch_min_interval_s: float = CERTS_REFETCH_MIN_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if inner is None:
            import google.auth.transport.requests

            inner = google.auth.transport.requests.Request()
        self._inner = inner
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._refetch_min_interval_s = refetch_min_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Any]] = {}
        self._last_invalidated: float | None = None
        self.fetches = 0

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        if method != "GET":
            return self._inner(url, method=method, body=body, headers=headers, timeout=timeout, **kwargs)
        now = self._clock()
        with self._lock:
            cached = self._cache.get(url)
            if cached is not None and now - cached[0] < self._ttl_s:
                return cached[1]
        response = self._inner(url, method="GET", headers=headers, timeout=timeout or self._timeout_s)
        with self._lock:
            self.fetches += 1
            if response.status == 200:
                self._cache[url] = (now, response)
        return response

    def invalidate(self) -> bool:
        """Drop the cached answers so the next call fetches; False (nothing dropped) when the last
        invalidation was less than ``refetch_min_interval_s`` ago."""
        with self._lock:
            now = self._clock()
            if self._last_invalidated is not None and (
                now - self._last_invalidated < self._refetch_min_interval_s
            ):
                return False
            self._last_invalidated = now
            self._cache.clear()
            return True


class GoogleIdTokenVerifier:
    """Verifies ``Authorization: Bearer`` ID tokens against audiences and allowed emails."""

    def __init__(
        self,
        *,
        audiences: list[str],
        allowed_emails: list[str],
        certs_url: str,
        request: CachingCertsRequest | None = None,
    ) -> None:
        if not audiences or not allowed_emails:
            raise ConfigurationError("token verification needs at least one audience and one email")
        self._audiences = list(audiences)
        self._emails = frozenset(e.lower() for e in allowed_emails)
        self._certs_url = certs_url
        self._request = request or CachingCertsRequest()

    @classmethod
    def from_settings(cls, settings: Settings) -> GoogleIdTokenVerifier:
        return cls(
            audiences=settings.auth_audiences,
            allowed_emails=settings.auth_allowed_emails,
            certs_url=settings.auth_certs_url,
        )

    def verify(self, authorization: str | None) -> Caller:
        token = _bearer_token(authorization)
        claims = self._verified_claims(token)
        issuer = claims.get("iss")
        if issuer not in GOOGLE_ISSUERS:
            raise Unauthenticated("the token's issuer is not Google")
        email = claims.get("email")
        if not isinstance(email, str) or email.lower() not in self._emails:
            raise PermissionDenied("the token's email may not call this service")
        if claims.get("email_verified") is not True:
            raise PermissionDenied("the token's email is not verified")
        subject = claims.get("sub")
        return Caller(email=email, subject=str(subject) if subject is not None else None)

    def _verified_claims(self, token: str) -> Mapping[str, Any]:
        import google.auth.exceptions
        from google.oauth2 import id_token

        for attempt in (1, 2):
            try:
                claims: Mapping[str, Any] = id_token.verify_token(
                    token,
                    self._request,  # type: ignore[arg-type]
                    audience=self._audiences,
                    certs_url=self._certs_url,
                    clock_skew_in_seconds=CLOCK_SKEW_S,
                )
                return claims
            except google.auth.exceptions.TransportError as exc:
                raise AuthUnavailable(f"cannot fetch the token certificates: {exc}") from exc
            except ValueError as exc:
                # An unknown key id right after Google rotated its keys: fetch the certificates again
                # (rate-limited: anyone can send a token naming an unknown key id).
                if attempt == 1 and "key id" in str(exc).lower() and self._request.invalidate():
                    continue
                raise Unauthenticated(f"invalid ID token: {_what_was_wrong(exc)}") from None
            except Exception as exc:  # a malformed token can break the JWT parsing in other ways
                raise Unauthenticated(f"invalid ID token: {type(exc).__name__}") from None
        raise Unauthenticated("invalid ID token")  # pragma: no cover - the loop returns or raises


# What google-auth's refusals mean, by a phrase of their message: the messages themselves quote the
# token, its segments or its claims (a token with a byte appended is echoed whole), which must reach
# neither a response nor a log line (nor a traceback: the refusals are raised `from None`).
_REFUSALS: tuple[tuple[str, str], ...] = (
    ("wrong number of segments", "not a JWT (three dot-separated segments)"),
    ("can't parse segment", "a segment is not base64url-encoded JSON"),
    ("header segment", "the header is not a JSON object"),
    ("payload segment", "the payload is not a JSON object"),
    ("incorrect padding", "a segment is not base64url-encoded"),
    ("invalid base64", "a segment is not base64url-encoded"),
    ("unsupported signature algorithm", "unsupported signature algorithm"),
    ("the key algorithm", "unsupported signature algorithm"),
    ("certificate for key id", "signed with a key Google does not list"),
    ("certificate key type", "the signature does not match the key"),
    ("could not verify token signature", "the signature does not verify"),
    ("token does not contain required claim", "a required claim (iat, exp) is missing"),
    ("token used too early", "issued in the future (check the clocks)"),
    ("token expired", "expired"),
    ("token has wrong audience", "issued for another audience"),
    ("token does not contain a valid 'aud'", "no valid audience claim"),
    ("token does not contain a valid 'sub'", "no valid subject claim"),
)


def _what_was_wrong(exc: Exception) -> str:
    """Why google-auth refused a token, in words that quote nothing from it."""
    message = str(exc).lower()
    for start, meaning in _REFUSALS:
        if start in message:
            return meaning
    return f"refused by the verifier ({type(exc).__name__})"


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("missing Authorization header")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("Authorization must be 'Bearer <Google ID token>'")
    return token


def check_serving_security(settings: Settings, service: str) -> GoogleIdTokenVerifier | None:
    """Refuse to serve writes unauthenticated beyond loopback; log what was chosen. Call at startup."""
    if settings.auth is AuthMode.DISABLED:
        if not settings.binds_loopback_only:
            raise ConfigurationError(
                f"{service}: NBA_PROPS_AUTH=disabled while binding {settings.host}: anyone who can "
                "reach it could start batches or write predictions. Bind loopback "
                "(NBA_PROPS_HOST=127.0.0.1) or set NBA_PROPS_AUTH=google_oidc with "
                "NBA_PROPS_AUTH_AUDIENCES and NBA_PROPS_AUTH_ALLOWED_EMAILS."
            )
        log.warning("Authentication disabled: serving on loopback only", service=service, host=settings.host)
        return None
    log.info(
        "Authentication: Google ID tokens required for state changes",
        service=service,
        audiences=settings.auth_audiences,
        allowed_emails=settings.auth_allowed_emails,
    )
    return GoogleIdTokenVerifier.from_settings(settings)


def install_auth(app: FastAPI, settings: Settings, service: str) -> None:
    """Decide the app's authentication at startup (lifespan); the dependency reads it from app.state.

    The API docs are routes FastAPI adds itself, outside the app's dependencies: they are put behind
    the same check here, so with auth on they need a token too.
    """
    app.state.auth_verifier = check_serving_security(settings, service)
    app.state.auth_configured = True
    _guard_docs(app)


class _DocsRoute(Route):
    """A docs route behind `authenticate_requests` (its own type: a second lifespan leaves it be)."""


def _guard_docs(app: FastAPI) -> None:
    docs = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url} - {None}
    for index, route in enumerate(app.router.routes):
        if isinstance(route, Route) and not isinstance(route, _DocsRoute) and route.path in docs:
            endpoint = _authenticated(route.endpoint)
            app.router.routes[index] = _DocsRoute(
                route.path, endpoint, methods=route.methods, include_in_schema=False
            )


def _authenticated(endpoint: Callable[..., Any]) -> Callable[[Request], Awaitable[Response]]:
    async def guarded(request: Request) -> Response:
        await run_in_threadpool(authenticate_requests, request)
        response: Response = await endpoint(request)
        return response

    return guarded


def authenticate_requests(request: Request) -> Caller:
    """App-wide dependency: with auth on, everything but the health probes needs a valid token.

    Synchronous on purpose: FastAPI runs it in the thread pool, where fetching certificates and the
    RSA check do not block the event loop.
    """
    if not getattr(request.app.state, "auth_configured", False):
        # Fail closed: an app whose startup did not decide on authentication serves only its probes.
        if request.url.path in PROBE_PATHS:
            return ANONYMOUS
        raise ConfigurationError("authentication was not configured at startup")
    verifier: GoogleIdTokenVerifier | None = request.app.state.auth_verifier
    if verifier is None or request.url.path in PROBE_PATHS:
        return ANONYMOUS
    try:
        caller = verifier.verify(request.headers.get("authorization"))
    except AuthError as exc:
        log.warning("Request refused", path=request.url.path, status=exc.status_code, reason=str(exc))
        raise
    request.state.caller = caller
    return caller


def auth_error_response(exc: AuthError) -> JSONResponse:
    """The one HTTP rendering of an auth failure (both apps use it)."""
    headers = {"WWW-Authenticate": 'Bearer realm="nba-props"'} if exc.status_code == 401 else None
    return JSONResponse({"error": exc.code, "detail": str(exc)}, status_code=exc.status_code, headers=headers)
