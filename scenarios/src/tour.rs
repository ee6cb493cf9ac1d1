//! A walk over every endpoint of the API: creates, reads, lists, updates, logins and typical
//! client errors, through the harness's recording client. The leak checks run it so that the
//! response log contains every kind of response even when no other check ran before them.

use harness::deployment::Deployment;
use harness::http::{AppClient, AppResponse, HttpError};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

/// Largest number of user list pages the tour reads. The list has no filter, so this bounds the
/// walk on a database with many users: 20 pages cover 2,000 users.
const MAX_USER_PAGES: usize = 20;

/// Resources the tour created and has not deleted yet, and its request count.
#[derive(Debug, Default)]
pub struct Tour {
    users: Vec<Uuid>,
    videos: Vec<Uuid>,
    localizations: Vec<Uuid>,
    requests: usize,
}

impl Tour {
    /// Returns the number of requests the tour sent.
    pub fn requests(&self) -> usize {
        self.requests
    }

    /// Returns the ids of the users the tour created.
    pub fn users(&self) -> &[Uuid] {
        &self.users
    }
}

/// Walks every endpoint as `check`. Created resources stay until [`clean_up`], so that their
/// rows can be read first. Fails only when a request gets no response.
pub async fn walk(deployment: &Deployment, check: &str) -> Result<Tour, HttpError> {
    let suffix = Uuid::new_v4().simple().to_string()[..12].to_owned();
    let client =
        AppClient::new(deployment, check)?.with_header("X-Actor", &format!("{check}-{suffix}"));
    let mut walker = Walker {
        client,
        tour: Tour::default(),
    };

    walker.send(Method::GET, "/healthz", None).await?;
    walker.send(Method::GET, "/readyz", None).await?;

    // Two users; the first changes its password, so it has had two hashes.
    let email = format!("tour-{suffix}@example.test");
    let password = format!("tour-password-{suffix}");
    let mut user_ids = Vec::new();
    for (index, email) in [email.clone(), format!("tour-{suffix}-b@example.test")]
        .iter()
        .enumerate()
    {
        let body = json!({
            "email": email,
            "display_name": format!("Tour user {index}"),
            "password": password,
        });
        let response = walker.send(Method::POST, "/v1/users", Some(body)).await?;
        if let Some(id) = created_id(&response) {
            walker.tour.users.push(id);
            user_ids.push(id);
        }
    }
    let new_password = format!("tour-new-password-{suffix}");
    if let Some(user) = user_ids.first().copied() {
        let path = format!("/v1/users/{user}");
        walker.send(Method::GET, &path, None).await?;
        let body = json!({ "display_name": "Tour user renamed", "password": new_password });
        walker.send(Method::PATCH, &path, Some(body)).await?;
    }

    // Every page of users, so that a list nesting anything in its items is seen in full.
    let mut offset = 0;
    for _ in 0..MAX_USER_PAGES {
        let path = format!("/v1/users?limit=100&offset={offset}");
        let response = walker.send(Method::GET, &path, None).await?;
        let items = response
            .json
            .as_ref()
            .and_then(|page| page.get("items"))
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if items < 100 {
            break;
        }
        offset += items;
    }
    walker.send(Method::GET, "/v1/users", None).await?;

    // Logins: right password, old password, unknown email.
    for (login_email, login_password) in [
        (email.as_str(), new_password.as_str()),
        (email.as_str(), password.as_str()),
        ("nobody@example.test", password.as_str()),
    ] {
        let body = json!({ "email": login_email, "password": login_password });
        walker.send(Method::POST, "/v1/login", Some(body)).await?;
    }

    if let Some(owner) = user_ids.first().copied() {
        walker.walk_videos(owner).await?;
    }

    // Client errors: duplicate email, unknown id, invalid field, wrong method, unknown route,
    // a user who still owns a video.
    let duplicate = json!({
        "email": email.to_uppercase(),
        "display_name": "Tour duplicate",
        "password": password,
    });
    walker
        .send(Method::POST, "/v1/users", Some(duplicate))
        .await?;
    let unknown = format!("/v1/users/{}", Uuid::new_v4());
    walker.send(Method::GET, &unknown, None).await?;
    let invalid = json!({ "email": "not-an-email", "display_name": "x", "password": password });
    walker
        .send(Method::POST, "/v1/users", Some(invalid))
        .await?;
    walker.send(Method::PUT, "/v1/users", None).await?;
    walker.send(Method::GET, "/v1/no-such-route", None).await?;
    if let Some(owner) = user_ids.first().copied() {
        walker
            .send(Method::DELETE, &format!("/v1/users/{owner}"), None)
            .await?;
    }

    Ok(walker.tour)
}

/// The client of a tour and what it created so far.
struct Walker {
    client: AppClient,
    tour: Tour,
}

impl Walker {
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<AppResponse, HttpError> {
        self.tour.requests += 1;
        self.client.send(method, path, body.as_ref()).await
    }

    /// Creates, reads, updates and lists a video of `owner` and a localization of it.
    async fn walk_videos(&mut self, owner: Uuid) -> Result<(), HttpError> {
        let body = json!({
            "owner_id": owner,
            "title": "Tour video",
            "source_language": "en-US",
            "duration_seconds": 60,
        });
        let response = self.send(Method::POST, "/v1/videos", Some(body)).await?;
        let Some(video) = created_id(&response) else {
            return Ok(());
        };
        self.tour.videos.push(video);

        let path = format!("/v1/videos/{video}");
        self.send(Method::GET, &path, None).await?;
        self.send(Method::PATCH, &path, Some(json!({ "status": "ready" })))
            .await?;
        self.send(Method::GET, &format!("/v1/videos?owner_id={owner}"), None)
            .await?;
        self.send(Method::GET, "/v1/videos?limit=100", None).await?;

        let list_path = format!("/v1/videos/{video}/localizations");
        let body = json!({ "target_language": "de-DE", "kind": "subtitles" });
        let response = self.send(Method::POST, &list_path, Some(body)).await?;
        if let Some(localization) = created_id(&response) {
            self.tour.localizations.push(localization);
            let path = format!("/v1/localizations/{localization}");
            self.send(Method::GET, &path, None).await?;
            self.send(Method::PATCH, &path, Some(json!({ "status": "done" })))
                .await?;
        }
        self.send(Method::GET, &list_path, None).await?;
        Ok(())
    }
}

/// Deletes what the tour created, children first. Failures are logged and otherwise ignored,
/// because every value is unique to the tour.
pub async fn clean_up(deployment: &Deployment, check: &str, tour: &mut Tour) {
    let client = match AppClient::new(deployment, check) {
        Ok(client) => client.with_header("X-Actor", check),
        Err(error) => {
            tracing::warn!(check, %error, "tour clean-up skipped");
            return;
        }
    };
    let paths: Vec<String> = tour
        .localizations
        .drain(..)
        .map(|id| format!("/v1/localizations/{id}"))
        .chain(tour.videos.drain(..).map(|id| format!("/v1/videos/{id}")))
        .chain(tour.users.drain(..).map(|id| format!("/v1/users/{id}")))
        .collect();
    for path in paths {
        match client.send(Method::DELETE, &path, None).await {
            Ok(response) if response.status == StatusCode::NO_CONTENT => {}
            Ok(response) => {
                tracing::warn!(check, %path, status = %response.status, "tour clean-up delete failed");
            }
            Err(error) => tracing::warn!(check, %path, %error, "tour clean-up delete failed"),
        }
    }
}

fn created_id(response: &AppResponse) -> Option<Uuid> {
    if response.status != StatusCode::CREATED {
        return None;
    }
    response
        .json
        .as_ref()?
        .get("id")?
        .as_str()
        .and_then(|id| Uuid::parse_str(id).ok())
}
