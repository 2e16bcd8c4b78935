//! Parsers of values that more than one section reads: secrets and
//! lists of keys (durations are `crate::duration`'s) (docs/DESIGN.md §8).

pub use crate::duration::{parse as duration, within as duration_within};
use crate::key::{HmacKey, MIN_SECRET_LEN};

/// A key of at least [`MIN_SECRET_LEN`] characters. The problem never
/// quotes the value: it is a secret.
pub fn secret(v: &str) -> Result<HmacKey, String> {
    if v.chars().count() < MIN_SECRET_LEN {
        Err(format!("is shorter than {MIN_SECRET_LEN} characters"))
    } else {
        Ok(HmacKey::new(v.as_bytes()))
    }
}

/// `kid:value,kid:value`, each key id one `is_kid` accepts (`rule` says
/// which in words), and unique. The values may be secrets: a problem
/// names an entry's position or key id, never its text.
pub fn keyed_entries<'a>(
    v: &'a str,
    is_kid: fn(&str) -> bool,
    rule: &str,
    value: &str,
) -> Result<Vec<(&'a str, &'a str)>, String> {
    let mut entries: Vec<(&str, &str)> = Vec::new();
    for (i, entry) in v.split(',').enumerate() {
        let n = i + 1;
        let (kid, text) = entry
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("entry {n} is not kid:{value}"))?;
        if !is_kid(kid) {
            return Err(format!("entry {n}: the key id must be {rule}"));
        }
        if entries.iter().any(|(seen, _)| *seen == kid) {
            return Err(format!("key id \"{kid}\" appears twice"));
        }
        entries.push((kid, text));
    }
    Ok(entries)
}
