import time

import jwt  # PyJWT


def sign_handoff(user_id, handoff_key, claims=None):
    """The Sessiongate-Login header value that logs user_id in."""
    payload = {"sub": user_id, "exp": int(time.time()) + 60}
    if claims:
        payload["claims"] = claims  # an object of strings, at most 1 KiB
    return jwt.encode(payload, handoff_key, algorithm="HS256")
