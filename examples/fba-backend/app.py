"""A stand-in for fba's backend: one protected route, trusting Portcullis's tokens.

    PORTCULLIS_URL=http://127.0.0.1:8000 PORTCULLIS_CLIENT_ID=fba-backend \
    PORTCULLIS_CLIENT_SECRET_FILE=/etc/fba/portcullis-secret \
    uvicorn app:app --host 127.0.0.1 --port 8001

``PORTCULLIS_VERIFY=jwks`` checks tokens with Portcullis's public keys instead of asking it
(see portcullis_auth.py for what that gives up). In fba itself, use the dependency where fba
uses ``DependsJwtAuth`` (``backend/common/security/jwt.py``).
"""

import os
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from portcullis_auth import PortcullisIntrospection, PortcullisJwks, PortcullisUser

if os.environ.get("PORTCULLIS_VERIFY", "introspection") == "jwks":
    auth = PortcullisJwks.from_env()
else:
    auth = PortcullisIntrospection.from_env()


@asynccontextmanager
async def lifespan(_app: FastAPI):
    yield
    await auth.aclose()


app = FastAPI(lifespan=lifespan)


@app.exception_handler(HTTPException)
async def envelope(_request, exc: HTTPException) -> JSONResponse:
    """fba's `{code, msg, data}` envelope, as fba's own handlers answer."""
    return JSONResponse(
        {"code": exc.status_code, "msg": exc.detail, "data": None},
        status_code=exc.status_code,
        headers=exc.headers,
    )


@app.get("/api/v1/sys/menus/sidebar")
async def sidebar(user: PortcullisUser = Depends(auth)) -> dict:
    """fba builds the sidebar from the user's roles; here: who asked, and no menus."""
    return {
        "code": 200,
        "msg": "Success",
        "data": {
            "user": {"id": user.id, "username": user.username, "sid": user.sid},
            "menus": [],
        },
    }
