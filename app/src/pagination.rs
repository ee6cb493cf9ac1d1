//! Offset pagination for list endpoints: `?limit=&offset=` in, and
//! `{"items":[...],"limit":L,"offset":O,"total":T}` out.

use serde::Serialize;

use crate::error::ApiError;

/// Items per page when `limit` is absent.
pub const DEFAULT_LIMIT: i64 = 20;
/// Largest `limit` accepted.
pub const MAX_LIMIT: i64 = 100;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: i64,
    pub offset: i64,
}

impl PageRequest {
    /// Parses the raw query values: `limit` 1 to 100 (default 20), `offset`
    /// 0 or more (default 0). Anything else is 422 `validation_failed`.
    pub fn parse(limit: Option<&str>, offset: Option<&str>) -> Result<Self, ApiError> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(raw) => raw
                .parse::<i64>()
                .ok()
                .filter(|value| (1..=MAX_LIMIT).contains(value))
                .ok_or_else(|| {
                    ApiError::validation(format!("limit must be an integer from 1 to {MAX_LIMIT}"))
                })?,
        };
        let offset = match offset {
            None => 0,
            Some(raw) => raw
                .parse::<i64>()
                .ok()
                .filter(|value| *value >= 0)
                .ok_or_else(|| ApiError::validation("offset must be an integer of 0 or more"))?,
        };
        Ok(Self { limit, offset })
    }
}

/// One page of a list, with the total number of items across all pages.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub limit: i64,
    pub offset: i64,
    pub total: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply() {
        let page = PageRequest::parse(None, None).expect("defaults are valid");

        assert_eq!(
            page,
            PageRequest {
                limit: 20,
                offset: 0
            }
        );
    }

    #[test]
    fn bounds_enforced() {
        let cases = [
            (Some("1"), None, true),
            (Some("100"), None, true),
            (Some("0"), None, false),
            (Some("101"), None, false),
            (Some("-5"), None, false),
            (Some("ten"), None, false),
            (Some(""), None, false),
            (None, Some("0"), true),
            (None, Some("1000000"), true),
            (None, Some("-1"), false),
            (None, Some("1.5"), false),
        ];
        for (limit, offset, ok) in cases {
            assert_eq!(
                PageRequest::parse(limit, offset).is_ok(),
                ok,
                "limit={limit:?} offset={offset:?}"
            );
        }
    }
}
