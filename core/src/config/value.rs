//! Parsers of values that more than one section reads: durations,
//! secrets and lists of keys (docs/DESIGN.md §8).

use crate::key::{HmacKey, MIN_SECRET_LEN};

/// `90s`, `30m`, `12h`, `2d` or plain seconds.
pub fn duration(v: &str) -> Result<u64, String> {
    let v = v.trim();
    let invalid = || format!("{v:?} is not a duration (use 90s, 30m, 12h, 2d or plain seconds)");
    let (digits, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(invalid()),
    };
    if digits.is_empty() || digits.len() > 12 {
        return Err(invalid());
    }
    let n: u64 = digits.parse().map_err(|_| invalid())?;
    if n == 0 {
        return Err("must be more than zero".to_owned());
    }
    Ok(n * scale)
}

/// A [`duration`] within `range` (seconds).
pub fn duration_within(v: &str, range: std::ops::RangeInclusive<u64>) -> Result<u64, String> {
    let secs = duration(v)?;
    if range.contains(&secs) {
        Ok(secs)
    } else {
        Err(format!(
            "must be between {}s and {}s",
            range.start(),
            range.end()
        ))
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_or_plain_seconds() {
        assert_eq!(duration("90s"), Ok(90));
        assert_eq!(duration("30m"), Ok(1800));
        assert_eq!(duration("12h"), Ok(43_200));
        assert_eq!(duration("2d"), Ok(172_800));
        assert_eq!(duration("3600"), Ok(3600));
        for bad in ["", "h", "1.5h", "-5", "5 m", "5w", "99999999999999h", "0"] {
            assert!(duration(bad).is_err(), "{bad:?}");
        }
    }
}
