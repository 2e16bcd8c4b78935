//! Method overrides a framework acts on though the request's method says
//! otherwise (DESIGN §13.2): a `POST` carrying `_method=DELETE` is a
//! `DELETE` to Rails (Rack's `MethodOverride`, from the form body),
//! Laravel and Symfony (the body, then the query; Laravel reads a JSON
//! body too). The override headers (`X-HTTP-Method-Override`, …) are
//! stripped from every request (`gate::request`); a parameter cannot be,
//! so where a rule's answer depends on the method, the policy judges such a
//! `POST` as both methods. This module only finds the parameter: in a
//! query, or in a body of a form type, read by the gate at most
//! [`MAX_BODY`] bytes of.

use std::borrow::Cow;

use serde_json::Value;

/// The parameter's name, as the frameworks spell it.
pub const PARAM: &str = "_method";
/// Most of a body read to find the parameter; a larger one is refused
/// (`413`), since what it holds past this cannot be judged.
pub const MAX_BODY: usize = 64 * 1024;

/// How a body is read for the parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// `application/x-www-form-urlencoded`, or no `Content-Type` at all,
    /// which Rack parses as such.
    UrlEncoded,
    /// `multipart/form-data` with its boundary.
    Multipart { boundary: String },
    /// `application/json` and `…+json`: Laravel takes input from it.
    Json,
}

/// Why a body that must be read for the parameter cannot be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormError {
    /// `multipart/form-data` without a usable `boundary`.
    NoBoundary,
}

impl FormError {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NoBoundary => "form_without_boundary",
        }
    }
}

impl Form {
    /// The form a body of this `Content-Type` is, if frameworks read
    /// `_method` from it; `Ok(None)` for any other body, which is not read.
    pub fn of(content_type: Option<&str>) -> Result<Option<Self>, FormError> {
        let Some(content_type) = content_type.filter(|c| !c.trim().is_empty()) else {
            return Ok(Some(Self::UrlEncoded));
        };
        let (media_type, params) = content_type.split_once(';').unwrap_or((content_type, ""));
        let media_type = media_type.trim().to_ascii_lowercase();
        Ok(Some(match media_type.as_str() {
            "application/x-www-form-urlencoded" => Self::UrlEncoded,
            "multipart/form-data" => Self::Multipart {
                boundary: boundary(params).ok_or(FormError::NoBoundary)?,
            },
            json if json.ends_with("/json") || json.ends_with("+json") => Self::Json,
            _ => return Ok(None),
        }))
    }

    /// The methods `body` names in `_method` fields, upper-cased.
    pub fn overrides(&self, body: &str) -> Vec<String> {
        let mut methods = Vec::new();
        match self {
            Self::UrlEncoded => methods.extend(in_query(body)),
            Self::Multipart { boundary } => {
                methods.extend(multipart_fields(body, boundary).filter_map(override_value))
            }
            Self::Json => {
                let named = serde_json::from_str::<Value>(body)
                    .ok()
                    .and_then(|v| v.get(PARAM).and_then(Value::as_str).and_then(method_named));
                methods.extend(named);
            }
        }
        methods
    }
}

/// The methods a query (or a url-encoded body) names in `_method`,
/// upper-cased. Names are read as PHP reads them (`.` and spaces become
/// `_`, `[…]` makes an array), values decoded leniently, as servers do.
pub fn in_query(query: &str) -> impl Iterator<Item = String> + '_ {
    query.split('&').filter_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        override_value((form_decode(name), form_decode(value)))
    })
}

/// The method a field names, if the field is `_method`.
fn override_value((name, value): (Cow<'_, str>, Cow<'_, str>)) -> Option<String> {
    is_override_name(&name).then(|| method_named(&value))?
}

/// `value` as a method, upper-cased, as the frameworks read it; none for
/// an empty one, which they ignore.
fn method_named(value: &str) -> Option<String> {
    Some(value.to_ascii_uppercase()).filter(|m| !m.is_empty())
}

/// `_method` as PHP would name it: a `.` or space stands for `_`, and a
/// `[…]` suffix is ignored.
fn is_override_name(name: &str) -> bool {
    let base = name.split('[').next().unwrap_or_default();
    base.len() == PARAM.len()
        && base
            .bytes()
            .zip(PARAM.bytes())
            .all(|(a, b)| a == b || (b == b'_' && matches!(a, b'.' | b' ')))
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, and a `%`
/// not followed by two hex digits stays as it is.
fn form_decode(s: &str) -> Cow<'_, str> {
    if !s.contains(['+', '%']) {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| (*bytes.get(at)? as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                if let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2)) {
                    out.push((hi * 16 + lo) as u8);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// The `boundary` parameter of a `multipart/form-data` type, unquoted.
fn boundary(params: &str) -> Option<String> {
    params.split(';').find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        (!value.is_empty() && value.len() <= 70).then(|| value.to_owned())
    })
}

/// The `(name, value)` of each part of a multipart body. Lenient where
/// servers are (a bare `\n` for `\r\n`, a missing closing delimiter), so
/// that it finds every field a framework could.
fn multipart_fields<'a>(
    body: &'a str,
    boundary: &str,
) -> impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)> + 'a {
    let delimiter = format!("--{boundary}");
    let parts: Vec<&'a str> = body.split(delimiter.as_str()).skip(1).collect();
    parts.into_iter().filter_map(|part| {
        // The closing delimiter is `--boundary--`.
        if part.starts_with("--") {
            return None;
        }
        let part = part
            .strip_prefix("\r\n")
            .or_else(|| part.strip_prefix('\n'))?;
        let (head, content) = part
            .split_once("\r\n\r\n")
            .or_else(|| part.split_once("\n\n"))?;
        let name = head.lines().find_map(|line| {
            let (header, value) = line.split_once(':')?;
            header
                .trim()
                .eq_ignore_ascii_case("content-disposition")
                .then(|| disposition_name(value))?
        })?;
        // The line break before the next delimiter is the delimiter's.
        let content = content
            .strip_suffix("\r\n")
            .or_else(|| content.strip_suffix('\n'))
            .unwrap_or(content);
        Some((Cow::Owned(name), Cow::Borrowed(content)))
    })
}

/// The `name` parameter of a `Content-Disposition: form-data` value.
fn disposition_name(value: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("name") {
            return None;
        }
        let value = value.trim();
        Some(
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value)
                .to_owned(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: &str) -> Vec<String> {
        in_query(q).collect()
    }

    #[test]
    fn the_query_names_a_method_in_any_case_and_any_php_spelling() {
        assert_eq!(query("_method=DELETE"), ["DELETE"]);
        assert_eq!(query("a=1&_method=delete&b=2"), ["DELETE"]);
        assert_eq!(query("%5Fmethod=put"), ["PUT"]);
        assert_eq!(query(".method=patch"), ["PATCH"]);
        assert_eq!(query("+method=patch"), ["PATCH"]);
        assert_eq!(query("_method[]=delete"), ["DELETE"]);
        assert_eq!(query("_method=DEL%45TE"), ["DELETE"]);
        assert_eq!(query("_method=DEL%zzETE"), ["DEL%ZZETE"]);
        assert_eq!(query("_method=a&_method=b"), ["A", "B"]);
        assert!(query("_method=").is_empty());
        assert!(query("_method").is_empty());
        assert!(query("method=DELETE&_methods=PUT&x_method=PUT").is_empty());
    }

    #[test]
    fn form_types_are_read_and_others_are_not() {
        assert_eq!(Form::of(None), Ok(Some(Form::UrlEncoded)));
        assert_eq!(
            Form::of(Some("application/x-www-form-urlencoded; charset=UTF-8")),
            Ok(Some(Form::UrlEncoded))
        );
        assert_eq!(
            Form::of(Some("Multipart/Form-Data; boundary=\"abc\"")),
            Ok(Some(Form::Multipart {
                boundary: "abc".into()
            }))
        );
        assert_eq!(
            Form::of(Some("multipart/form-data")),
            Err(FormError::NoBoundary)
        );
        assert_eq!(Form::of(Some("application/json")), Ok(Some(Form::Json)));
        assert_eq!(
            Form::of(Some("application/vnd.api+json")),
            Ok(Some(Form::Json))
        );
        assert_eq!(Form::of(Some("text/plain")), Ok(None));
        assert_eq!(Form::of(Some("application/octet-stream")), Ok(None));
    }

    #[test]
    fn a_url_encoded_body_names_the_method() {
        assert_eq!(
            Form::UrlEncoded.overrides("name=x&_method=delete"),
            ["DELETE"]
        );
    }

    #[test]
    fn a_multipart_body_names_the_method_in_its_field() {
        let form = Form::Multipart {
            boundary: "XyZ".into(),
        };
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n\
                    --XyZ\r\ncontent-disposition: form-data; name=\"_method\"\r\n\r\ndelete\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\
                    Content-Type: application/octet-stream\r\n\r\n\u{1}\u{2}_method=PUT\r\n--XyZ--\r\n";
        assert_eq!(form.overrides(body), ["DELETE"]);
        let bare_newlines = "--XyZ\nContent-Disposition: form-data; name=_method\n\nPATCH\n--XyZ";
        assert_eq!(form.overrides(bare_newlines), ["PATCH"]);
        assert!(form.overrides("no parts at all").is_empty());
    }

    #[test]
    fn a_json_body_names_the_method_at_its_top_level() {
        assert_eq!(
            Form::Json.overrides(r#"{"_method": "delete", "x": 1}"#),
            ["DELETE"]
        );
        assert!(Form::Json
            .overrides(r#"{"data": {"_method": "DELETE"}}"#)
            .is_empty());
        assert!(Form::Json.overrides(r#"[1, 2]"#).is_empty());
        assert!(Form::Json.overrides("not json").is_empty());
    }
}
