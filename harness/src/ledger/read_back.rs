//! Reading the written values back: through the app's API and directly from the database.

use reqwest::{Method, StatusCode};
use sqlx::Row;
use uuid::Uuid;

use crate::deployment::Deployment;
use crate::http::{AppClient, HttpError};
use crate::redact;

/// Page size of the API read-back, the maximum `limit` of the HTTP contract.
const PAGE_SIZE: usize = 100;

/// Selects the titles of one owner's videos, every copy included.
const TITLES_OF_OWNER: &str = "SELECT title FROM videos WHERE owner_id = $1";

/// A read-back that could not complete, so the check has no verdict.
#[derive(Debug, thiserror::Error)]
pub enum ReadBackError {
    /// A request of the API read-back failed.
    #[error("reading the writes back through the API failed: {0}")]
    Http(#[from] HttpError),
    /// A page request returned another status than 200.
    #[error("reading the writes back: GET {path} returned {status}, expected 200")]
    Status {
        /// Path and query sent.
        path: String,
        /// Status received.
        status: StatusCode,
    },
    /// A page did not have the documented `items` and `total`.
    #[error("reading the writes back: GET {path} returned a page without `items` or `total`")]
    Page {
        /// Path and query sent.
        path: String,
    },
    /// The database read as the auditor role failed.
    #[error("reading the writes back from the database as the auditor role failed: {0}")]
    Database(String),
}

/// Reads the titles of every video of `owner` through `GET /v1/videos`, page by page.
pub async fn read_api(
    deployment: &Deployment,
    check: &str,
    owner: Uuid,
) -> Result<Vec<String>, ReadBackError> {
    let client = AppClient::new(deployment, check)?;
    let mut titles = Vec::new();
    let mut offset = 0;
    loop {
        let path = format!("/v1/videos?owner_id={owner}&limit={PAGE_SIZE}&offset={offset}");
        let response = client.send(Method::GET, &path, None).await?;
        if response.status != StatusCode::OK {
            return Err(ReadBackError::Status {
                path,
                status: response.status,
            });
        }
        let page = response.json.as_ref();
        let items = page.and_then(|page| page.get("items")?.as_array());
        let total = page.and_then(|page| page.get("total")?.as_u64());
        let (Some(items), Some(total)) = (items, total) else {
            return Err(ReadBackError::Page { path });
        };

        for item in items {
            match item.get("title").and_then(|title| title.as_str()) {
                Some(title) => titles.push(title.to_owned()),
                None => return Err(ReadBackError::Page { path }),
            }
        }
        offset += items.len();
        if items.is_empty() || offset as u64 >= total {
            return Ok(titles);
        }
    }
}

/// Reads the titles of every video of `owner` from the `videos` table as the auditor role.
pub async fn read_database(
    deployment: &Deployment,
    owner: Uuid,
) -> Result<Vec<String>, ReadBackError> {
    let failed = |error: sqlx::Error| ReadBackError::Database(redact::redact(&error.to_string()));
    let pool = deployment.pool(&deployment.auditor).await.map_err(failed)?;
    let rows = sqlx::query(TITLES_OF_OWNER)
        .bind(owner)
        .fetch_all(&pool)
        .await;
    pool.close().await;

    let mut titles = Vec::new();
    for row in rows.map_err(failed)? {
        titles.push(row.try_get::<String, _>(0).map_err(failed)?);
    }
    Ok(titles)
}
