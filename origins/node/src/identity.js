/**
 * Who the edge says is making the request: a verified assertion's claims,
 * in camelCase, frozen.
 */
export class Identity {
  /** @param {Record<string, any>} c the assertion's validated claims */
  constructor(c) {
    /** The user id (for a machine client, its token's `sub`). */
    this.sub = c.sub;
    /** A short public id of the session (not usable as a session). */
    this.sid = c.sid;
    /** `"session"` for a person, `"bearer"` for a machine client. */
    this.kind = c.kind;
    /** The user's email address, or `null` when the login named none. */
    this.email = c.email;
    /** The user's groups; `[]` for none. */
    this.groups = Object.freeze([...c.groups]);
    /** The string claims the login gave the session; `{}` for none. */
    this.claims = Object.freeze(Object.fromEntries(Object.entries(c.claims)));
    /** A machine client's `client_id`; `null` for a session. */
    this.clientId = c.client_id;
    /** A machine client's scopes, space-separated; `null` for a session. */
    this.scope = c.scope;
    /** When the user last entered credentials (Unix seconds). */
    this.authTime = c.auth_time;
    /** Whether the session is bound to a key of the user's device. */
    this.deviceBound = c.device_bound;
    /** When the assertion was issued (Unix seconds). */
    this.iat = c.iat;
    /** When the assertion expires (Unix seconds). */
    this.exp = c.exp;
    Object.freeze(this);
  }

  /** Whether the user is in `group` (exact match). */
  inGroup(group) {
    return this.groups.includes(group);
  }

  /** Whether this is a machine client whose token carries `scope` (a whole scope, exactly). */
  hasScope(scope) {
    if (this.scope === null || typeof scope !== "string" || scope === "") return false;
    return this.scope.split(/[\t\n\f\r ]+/).includes(scope);
  }
}
