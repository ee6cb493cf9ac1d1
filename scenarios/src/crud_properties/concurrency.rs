//! The concurrency properties, run after the sequences on the same clone:
//!
//! - N concurrent creates of one email in different cases: exactly one succeeds (201), every
//!   other gets 409 `conflict`, and the database contains one user with the winner's email and one
//!   audit row for it.
//! - N concurrent updates of one video, each setting title, duration and status: every one is
//!   acknowledged with its own values, and the row ends equal to one acknowledged update, all
//!   three fields and `updated_at` from the same request, never a mix of two.

use futures::future::join_all;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::driver::{CaseFailure, Driver};
use super::invariants::ACTOR;

/// Rounds of each property.
const ROUNDS: usize = 6;
/// Maximum concurrent requests in a round.
const MAX_CONCURRENT: usize = 8;

/// Failure of a property.
pub enum Failure {
    /// A rule broke; the text names the round and what differs.
    Finding(String),
    /// The app or the database could not be reached: no verdict.
    Infrastructure(String),
}

impl From<CaseFailure> for Failure {
    fn from(failure: CaseFailure) -> Self {
        match failure {
            CaseFailure::Finding { message, .. } => Failure::Finding(message),
            CaseFailure::Infrastructure(message) => Failure::Infrastructure(message),
        }
    }
}

/// Runs both properties with rounds drawn from `seed`; returns a summary.
pub async fn run(driver: &mut Driver, seed: u64) -> Result<String, Failure> {
    let mut rng = StdRng::seed_from_u64(seed);
    for round in 1..=ROUNDS {
        let count = rng.random_range(2..=MAX_CONCURRENT);
        concurrent_creates(driver, &mut rng, count)
            .await
            .map_err(|failure| in_round("concurrent creates", round, count, failure))?;
        let count = rng.random_range(2..=MAX_CONCURRENT);
        concurrent_updates(driver, count)
            .await
            .map_err(|failure| in_round("concurrent updates", round, count, failure))?;
    }
    Ok(format!(
        "{ROUNDS} rounds each of concurrent same-email creates and concurrent updates (2 to \
         {MAX_CONCURRENT} requests) hold"
    ))
}

fn in_round(property: &str, round: usize, count: usize, failure: Failure) -> Failure {
    match failure {
        Failure::Finding(message) => Failure::Finding(format!(
            "{property}, round {round} with {count} requests (seed as above): {message}"
        )),
        other => other,
    }
}

struct Reply {
    status: u16,
    json: Value,
}

async fn send(
    driver: &Driver,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Result<Reply, Failure> {
    let (client, base_url) = driver.http();
    let response = client
        .request(method.clone(), format!("{base_url}{path}"))
        .header("X-Actor", ACTOR)
        .json(&body)
        .send()
        .await
        .map_err(|error| Failure::Infrastructure(format!("{method} {path} failed: {error}")))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.map_err(|error| {
        Failure::Infrastructure(format!("reading {method} {path} failed: {error}"))
    })?;
    driver.record(&method, path, status, &headers, &text);
    Ok(Reply {
        status,
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
    })
}

/// Flips the case of each ASCII letter at random.
fn random_case(rng: &mut StdRng, text: &str) -> String {
    text.chars()
        .map(|c| {
            if rng.random_bool(0.5) {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

async fn concurrent_creates(
    driver: &mut Driver,
    rng: &mut StdRng,
    count: usize,
) -> Result<(), Failure> {
    driver.reset().await?;
    let emails: Vec<String> = (0..count)
        .map(|_| random_case(rng, "race.condition@example.test"))
        .collect();
    let requests = emails.iter().map(|email| {
        let body = json!({"email": email, "display_name": "Racer", "password": "correct horse"});
        send(driver, reqwest::Method::POST, "/v1/users", body)
    });
    let replies: Vec<Reply> = join_all(requests)
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;

    let created: Vec<usize> = (0..count).filter(|i| replies[*i].status == 201).collect();
    let [winner] = created.as_slice() else {
        return Err(Failure::Finding(format!(
            "{} of {count} creates succeeded, expected exactly 1 (statuses {:?})",
            created.len(),
            replies.iter().map(|r| r.status).collect::<Vec<_>>()
        )));
    };
    for (index, reply) in replies.iter().enumerate() {
        if index == *winner {
            continue;
        }
        let code = reply.json.pointer("/error/code").and_then(Value::as_str);
        if reply.status != 409 || code != Some("conflict") {
            return Err(Failure::Finding(format!(
                "a losing create returned {} {code:?}, expected 409 \"conflict\"",
                reply.status
            )));
        }
    }
    let winner_email = replies[*winner].json.get("email").and_then(Value::as_str);
    if winner_email != Some(emails[*winner].as_str()) {
        return Err(Failure::Finding(format!(
            "the created user has email {winner_email:?}, but its request sent {:?}",
            emails[*winner]
        )));
    }

    let rows: Vec<(String,)> = sqlx::query_as("SELECT email FROM users")
        .fetch_all(driver.auditor())
        .await
        .map_err(|error| Failure::Infrastructure(format!("reading users failed: {error}")))?;
    if rows.len() != 1 || rows[0].0 != emails[*winner] {
        return Err(Failure::Finding(format!(
            "users holds {:?}, expected only the winner's email {:?}",
            rows.iter().map(|row| &row.0).collect::<Vec<_>>(),
            emails[*winner]
        )));
    }
    let audit: (i64,) = sqlx::query_as("SELECT count(*) FROM audit_log")
        .fetch_one(driver.auditor())
        .await
        .map_err(|error| Failure::Infrastructure(format!("reading audit_log failed: {error}")))?;
    if audit.0 != 1 {
        return Err(Failure::Finding(format!(
            "audit_log has {} rows after one successful create, expected 1",
            audit.0
        )));
    }
    Ok(())
}

async fn concurrent_updates(driver: &mut Driver, count: usize) -> Result<(), Failure> {
    driver.reset().await?;
    let user = send(
        driver,
        reqwest::Method::POST,
        "/v1/users",
        json!({"email": "owner@example.test", "display_name": "Owner", "password": "correct horse"}),
    )
    .await?;
    let user_id = user
        .json
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let video = send(
        driver,
        reqwest::Method::POST,
        "/v1/videos",
        json!({"owner_id": user_id, "title": "Original", "source_language": "en", "duration_seconds": 1}),
    )
    .await?;
    let Some(video_id) = video
        .json
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return Err(Failure::Finding(format!(
            "setting up: creating the video returned {}",
            video.status
        )));
    };

    let statuses = ["draft", "processing", "ready", "failed"];
    let updates: Vec<(String, i64, &str)> = (0..count)
        .map(|i| {
            (
                format!("Update {i}"),
                100 + i as i64,
                statuses[i % statuses.len()],
            )
        })
        .collect();
    let path = format!("/v1/videos/{video_id}");
    let requests = updates.iter().map(|(title, duration, status)| {
        let body = json!({"title": title, "duration_seconds": duration, "status": status});
        send(driver, reqwest::Method::PATCH, &path, body)
    });
    let replies: Vec<Reply> = join_all(requests)
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;

    for ((title, duration, status), reply) in updates.iter().zip(&replies) {
        let own = reply.json.get("title").and_then(Value::as_str) == Some(title.as_str())
            && reply.json.get("duration_seconds").and_then(Value::as_i64) == Some(*duration)
            && reply.json.get("status").and_then(Value::as_str) == Some(*status);
        if reply.status != 200 || !own {
            return Err(Failure::Finding(format!(
                "update {title:?} returned {} {}, expected 200 with its own values",
                reply.status, reply.json
            )));
        }
    }

    let row: (String, i64, String, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "SELECT title, duration_seconds::bigint, status, updated_at FROM videos WHERE id = $1::uuid",
    )
    .bind(&video_id)
    .fetch_one(driver.auditor())
    .await
    .map_err(|error| Failure::Infrastructure(format!("reading the video failed: {error}")))?;
    let winner = updates
        .iter()
        .zip(&replies)
        .find(|((title, duration, status), _)| {
            row.0 == *title && row.1 == *duration && row.2 == *status
        });
    let Some((_, reply)) = winner else {
        return Err(Failure::Finding(format!(
            "the video ended as (title {:?}, duration {}, status {:?}), which no single \
             acknowledged update sent: a mix of updates",
            row.0, row.1, row.2
        )));
    };
    let acknowledged_at = reply
        .json
        .get("updated_at")
        .and_then(Value::as_str)
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok());
    if acknowledged_at.map(|time| time.with_timezone(&chrono::Utc)) != Some(row.3) {
        return Err(Failure::Finding(format!(
            "the video's updated_at {} differs from the winning update's {acknowledged_at:?}",
            row.3
        )));
    }

    let audit: (i64,) = sqlx::query_as(
        "SELECT count(*) FROM audit_log WHERE action = 'update' AND entity_type = 'video'",
    )
    .fetch_one(driver.auditor())
    .await
    .map_err(|error| Failure::Infrastructure(format!("reading audit_log failed: {error}")))?;
    if audit.0 != count as i64 {
        return Err(Failure::Finding(format!(
            "audit_log has {} video updates after {count} acknowledged ones",
            audit.0
        )));
    }
    Ok(())
}
