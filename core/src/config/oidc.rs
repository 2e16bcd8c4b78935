//! Sign-in with an OpenID Connect provider: the `OIDC_*` variables, read
//! by [`Oidc::from_lookup`] (docs/DESIGN.md §8, §12).

use super::Vars;
use crate::oidc::Oidc;
use crate::token::KeyRing;

/// `Some(None)` when no provider is configured. The state key is derived
/// from the session keys, so a valid provider needs them too.
pub(super) fn read(vars: &mut Vars, keys: Option<&KeyRing>) -> Option<Option<Oidc>> {
    match Oidc::from_lookup(|var| vars.get(var), keys) {
        Ok(oidc) => Some(oidc),
        Err(problems) => {
            for (var, problem) in problems {
                vars.report(var, problem);
            }
            None
        }
    }
}
