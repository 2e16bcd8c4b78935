//! Durations as every setting and rule writes them (DESIGN §8): `90s`,
//! `30m`, `12h`, `2d` or plain seconds.

/// `90s`, `30m`, `12h`, `2d` or plain seconds.
pub fn parse(v: &str) -> Result<u64, String> {
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

/// A [`parse`]d duration within `range` (seconds).
pub fn within(v: &str, range: std::ops::RangeInclusive<u64>) -> Result<u64, String> {
    let secs = parse(v)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_or_plain_seconds() {
        assert_eq!(parse("90s"), Ok(90));
        assert_eq!(parse("30m"), Ok(1800));
        assert_eq!(parse("12h"), Ok(43_200));
        assert_eq!(parse("2d"), Ok(172_800));
        assert_eq!(parse("3600"), Ok(3600));
        for bad in ["", "h", "1.5h", "-5", "5 m", "5w", "99999999999999h", "0"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
