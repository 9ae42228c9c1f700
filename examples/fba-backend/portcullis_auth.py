"""fba's backend trusting Portcullis's access tokens: a FastAPI dependency.

Two ways to check a token (docs/migrating-from-fba.md, "The backend fba keeps"):

- ``PortcullisIntrospection`` (recommended) asks Portcullis on every request
  (``POST /api/v1/auth/introspect``, HTTP Basic as an API client). A session that was logged out,
  kicked, or whose user was disabled is refused on the next request, and the answer names the
  user and their permission codes.
- ``PortcullisJwks`` checks the EdDSA signature here, with the keys of
  ``/.well-known/jwks.json``: no hop per request, but Portcullis is never asked, so a revoked
  session's token keeps working until it expires (``jwt.access_ttl_seconds``, 15 minutes by
  default), and the token names the user only by id.

Either one is a dependency::

    auth = PortcullisIntrospection.from_env()

    @app.get("/api/v1/sys/menus/sidebar")
    async def sidebar(user: PortcullisUser = Depends(auth)): ...

and ``await auth.verify(token)`` checks a token that does not come in a header (the websocket's
``auth`` payload). A refused token raises ``HTTPException(401)`` with RFC 6750's challenge;
Portcullis unreachable, or refusing this backend's own credentials, raises 503 (never 401: the
frontend would sign its user out for the server's fault).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import httpx
from fastapi import HTTPException, Request

log = logging.getLogger("portcullis_auth")


@dataclass(frozen=True)
class PortcullisUser:
    """Who a token belongs to. ``username`` and ``codes`` only through introspection."""

    id: int
    sid: str
    username: str | None = None
    codes: frozenset[str] = frozenset()
    exp: int | None = None


def _refused(error: str | None = "invalid_token") -> HTTPException:
    challenge = 'Bearer realm="portcullis"'
    if error:
        challenge += f', error="{error}"'
    msg = "Token is missing" if error is None else "Token is invalid or has expired"
    return HTTPException(status_code=401, detail=msg, headers={"WWW-Authenticate": challenge})


def _unavailable(why: str) -> HTTPException:
    log.error("cannot check tokens: %s", why)
    return HTTPException(status_code=503, detail="Authentication is unavailable, try again")


def bearer_token(request: Request) -> str:
    """The token of ``Authorization: Bearer …``; 401 without one."""
    header = request.headers.get("authorization")
    if not header:
        raise _refused(error=None)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _refused()
    return token.strip()


def _secret_from_env() -> str:
    path = os.environ.get("PORTCULLIS_CLIENT_SECRET_FILE")
    if path:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    return os.environ["PORTCULLIS_CLIENT_SECRET"]


class PortcullisIntrospection:
    """Asks Portcullis about every token: revocation is immediate.

    The API client needs the claims read here:
    ``portcullis client create --id fba-backend --claims sub,username,scope,exp,sid``.
    Answers are not cached: a cache would let a revoked token in for as long as it keeps one.
    """

    def __init__(self, base_url: str, client_id: str, client_secret: str, *, timeout: float = 2.0):
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            auth=(client_id, client_secret),
            timeout=timeout,
        )

    @classmethod
    def from_env(cls) -> PortcullisIntrospection:
        """``PORTCULLIS_URL``, ``PORTCULLIS_CLIENT_ID``, and ``PORTCULLIS_CLIENT_SECRET_FILE``
        (or ``PORTCULLIS_CLIENT_SECRET``)."""
        return cls(
            os.environ["PORTCULLIS_URL"],
            os.environ["PORTCULLIS_CLIENT_ID"],
            _secret_from_env(),
        )

    async def verify(self, token: str) -> PortcullisUser:
        try:
            res = await self._http.post(
                "/api/v1/auth/introspect",
                data={"token": token, "token_type_hint": "access_token"},
            )
        except httpx.HTTPError as e:
            raise _unavailable(f"Portcullis unreachable: {e!r}") from None
        if res.status_code != 200:
            # 401: this backend's client id or secret is wrong; 429: too many wrong ones.
            raise _unavailable(f"introspection answered {res.status_code}")
        answer = res.json()
        if not answer.get("active"):
            raise _refused()
        if "sub" not in answer or "sid" not in answer:
            raise _unavailable("the API client lacks the sub or sid claim (--claims)")
        return PortcullisUser(
            id=int(answer["sub"]),
            sid=answer["sid"],
            username=answer.get("username"),
            codes=frozenset(answer.get("scope", "").split()),
            exp=answer.get("exp"),
        )

    async def __call__(self, request: Request) -> PortcullisUser:
        return await self.verify(bearer_token(request))

    async def aclose(self) -> None:
        await self._http.aclose()


class PortcullisJwks:
    """Checks tokens locally with Portcullis's public keys (``jwt.algorithm = "EdDSA"``).

    Fast, but blind to revocation: a logged-out or kicked session's token is accepted until its
    ``exp``. Keys are fetched once and again when a token names an unknown ``kid`` (a node
    restarted with a new key), at most every 2 s.
    """

    def __init__(
        self,
        base_url: str,
        *,
        issuer: str = "portcullis",
        audience: str = "portcullis",
        leeway: int = 30,
        timeout: float = 2.0,
    ):
        import jwt  # PyJWT, with cryptography for Ed25519

        self._jwt = jwt
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)
        self._issuer, self._audience, self._leeway = issuer, audience, leeway
        self._keys: dict[str, object] = {}
        self._fetched_at = 0.0

    @classmethod
    def from_env(cls) -> PortcullisJwks:
        """``PORTCULLIS_URL``; ``PORTCULLIS_ISSUER`` and ``PORTCULLIS_AUDIENCE`` when not
        Portcullis's defaults (``jwt.issuer``, ``jwt.audience``)."""
        return cls(
            os.environ["PORTCULLIS_URL"],
            issuer=os.environ.get("PORTCULLIS_ISSUER", "portcullis"),
            audience=os.environ.get("PORTCULLIS_AUDIENCE", "portcullis"),
        )

    async def _key(self, kid: str):
        if kid not in self._keys and time.monotonic() - self._fetched_at > 2.0:
            self._fetched_at = time.monotonic()
            try:
                res = await self._http.get("/.well-known/jwks.json")
                res.raise_for_status()
                keys = self._jwt.PyJWKSet.from_dict(res.json()).keys
            except (httpx.HTTPError, self._jwt.PyJWTError) as e:
                raise _unavailable(f"cannot fetch Portcullis's keys: {e!r}") from None
            self._keys = {k.key_id: k.key for k in keys if k.key_id}
        return self._keys.get(kid)

    async def verify(self, token: str) -> PortcullisUser:
        jwt = self._jwt
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _refused() from None
        # Access tokens only (`typ: at+jwt`), and only the algorithm the keys are for.
        if header.get("typ") != "at+jwt" or header.get("alg") != "EdDSA":
            raise _refused()
        key = await self._key(str(header.get("kid")))
        if key is None:
            raise _refused()
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["EdDSA"],
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={"require": ["exp", "nbf", "iat", "sub", "sid", "iss", "aud"]},
            )
        except jwt.PyJWTError:
            raise _refused() from None
        return PortcullisUser(id=int(claims["sub"]), sid=claims["sid"], exp=claims["exp"])

    async def __call__(self, request: Request) -> PortcullisUser:
        return await self.verify(bearer_token(request))

    async def aclose(self) -> None:
        await self._http.aclose()
