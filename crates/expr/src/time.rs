//! Date parsing for `Date(x)` and for comparing dates with strings.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Parses the timestamp spellings the stores and clients produce:
///
/// - RFC 3339 / ISO 8601 with an offset: `2026-03-01T10:00:00Z`,
///   `2026-03-01T10:00:00.123+02:00`, also with a space for the `T`;
/// - PostgreSQL's text form with an hour-only offset: `2026-03-01 10:00:00+00`;
/// - without an offset, taken as UTC: `2026-03-01 10:00:00`,
///   `2026-03-01T10:00:00.5`, `2026-03-01T10:00`;
/// - a date alone, midnight UTC: `2026-03-01`.
///
/// Anything else is `None`.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    // Cheap rejection: every accepted form starts with `YYYY-MM-DD`.
    let b = s.as_bytes();
    if b.len() < 10 || b.len() > 64 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    if b.len() == 10 {
        return NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn accepted_spellings() {
        let want = "2026-03-01T10:00:00Z";
        for s in [
            "2026-03-01T10:00:00Z",
            "2026-03-01T10:00:00+00:00",
            "2026-03-01T12:00:00+02:00",
            "2026-03-01 10:00:00Z",
            "2026-03-01 10:00:00+00",
            "2026-03-01 11:00:00+01",
            "2026-03-01 10:00:00",
            "2026-03-01T10:00:00",
            "2026-03-01T10:00",
            "2026-03-01 10:00",
            " 2026-03-01T10:00:00.000Z ",
        ] {
            let t = parse_time(s).unwrap_or_else(|| panic!("{s}"));
            assert_eq!(crate::value::format_time(&t), want, "{s}");
        }
        let t = parse_time("2026-03-01T10:00:00.25Z").unwrap();
        assert_eq!(crate::value::format_time(&t), "2026-03-01T10:00:00.250Z");
        let t = parse_time("2026-03-01").unwrap();
        assert_eq!(crate::value::format_time(&t), "2026-03-01T00:00:00Z");
    }

    #[test]
    fn rejected_spellings() {
        for s in [
            "",
            "garbage",
            "2026-13-01",
            "2026-02-30",
            "01/03/2026",
            "2026-03-01T25:00:00Z",
            "20260301",
            "2026-03-01Tfoo",
            "ééééééééééé",
        ] {
            assert_eq!(parse_time(s), None, "{s}");
        }
    }
}
