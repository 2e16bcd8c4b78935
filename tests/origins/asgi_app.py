"""A Starlette origin (ASGI, under uvicorn) behind the edge: as express-app.mjs.

    JWKS_URL=… AUDIENCE=… CACHE_S=… uvicorn tests.origins.asgi_app:app
"""

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sessiongate_origin import SessiongateMiddleware, Verifier


async def whoami(request: Request) -> JSONResponse:
    who = request.state.sessiongate
    return JSONResponse(
        {"sub": who.sub, "kind": who.kind, "groups": list(who.groups), "assertion": request.headers["sessiongate-assertion"]}
    )


verifier = Verifier(
    os.environ["AUDIENCE"],
    jwks_url=os.environ["JWKS_URL"],
    jwks_lifespan=float(os.environ["CACHE_S"]),
    jwks_refetch_interval=0,
)
app = Starlette(routes=[Route("/{path:path}", whoami, methods=["GET", "POST", "DELETE"])])
app.add_middleware(SessiongateMiddleware, verifier=verifier)
