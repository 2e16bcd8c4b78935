"""A Django origin (ASGI, under uvicorn) behind the edge: as express-app.mjs,
in one file.

    JWKS_URL=… AUDIENCE=… CACHE_S=… uvicorn tests.origins.django_app:app
"""

import os

import django
from django.conf import settings
from django.http import JsonResponse
from django.urls import re_path

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="only-for-the-test-origin-not-a-secret",
    MIDDLEWARE=["sessiongate_origin.django.SessiongateMiddleware"],
    SESSIONGATE={
        "AUDIENCE": os.environ["AUDIENCE"],
        "JWKS_URL": os.environ["JWKS_URL"],
        "JWKS_LIFESPAN": float(os.environ["CACHE_S"]),
        "JWKS_REFETCH_INTERVAL": 0,
    },
)
django.setup()


def whoami(request):
    who = request.sessiongate
    return JsonResponse(
        {"sub": who.sub, "kind": who.kind, "groups": list(who.groups), "assertion": request.headers["Sessiongate-Assertion"]}
    )


urlpatterns = [re_path(r"^.*$", whoami)]

from django.core.asgi import get_asgi_application  # noqa: E402 (after settings)

app = get_asgi_application()
