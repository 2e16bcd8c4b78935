import jwt  # PyJWT


def verify_assertion(token, assertion_key, audience, method, path_and_query):
    """Returns the assertion's claims, or raises jwt.InvalidTokenError."""
    claims = jwt.decode(
        token,
        assertion_key,
        algorithms=["HS256"],
        audience=audience,
        issuer="sessiongate",
        leeway=5,
        options={"require": ["exp", "iat", "sub", "sid", "htm", "htu"]},
    )
    if claims["htm"] != method or claims["htu"] != path_and_query:
        raise jwt.InvalidTokenError("assertion was issued for another request")
    return claims
