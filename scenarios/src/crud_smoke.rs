//! Check `crud.smoke`: creates, reads, updates, lists and deletes a user, a
//! video of that user and a localization of that video over HTTP. After each
//! step it reads the row directly as the auditor role and compares every field,
//! the password hash and the audit log with what the app returned.
//!
//! Every value is unique to the run (a random suffix), so the check can run
//! again on the same database.

mod api;
mod findings;
mod records;

use std::time::Instant;

use harness::check::CheckResult;
use harness::deployment::Deployment;
use harness::secret::Secret;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::redact::redact;
use api::{Api, Reply};
use findings::{Findings, Step, Stop};
use records::{
    AuditRow, FieldKind, LocalizationRow, Record, UserRow, VideoRow, count_localizations_of,
    count_users, count_videos_of, fields_from_json, text,
};

/// Stable check name.
pub const NAME: &str = "crud.smoke";

/// Page size of the list requests, which is the contract's maximum.
const PAGE_LIMIT: i64 = 100;

/// Maximum number of user list pages read while looking for the created user.
/// The users list has no filter, so on a large database the user can be on a
/// late page. 50 pages cover 5,000 users.
const MAX_USER_PAGES: i64 = 50;

/// Prefix of every argon2id PHC string.
const ARGON2ID_PREFIX: &str = "$argon2id$";

const CREATE_USER: Step = Step::new("create user", "POST /v1/users");
const GET_USER: Step = Step::new("get user", "GET /v1/users/{id}");
const UPDATE_USER: Step = Step::new("update user", "PATCH /v1/users/{id}");
const LOGIN: Step = Step::new("log in", "POST /v1/login");
const LOGIN_OLD_PASSWORD: Step = Step::new("log in with the old password", "POST /v1/login");
const LIST_USERS: Step = Step::new("list users", "GET /v1/users");
const CREATE_VIDEO: Step = Step::new("create video", "POST /v1/videos");
const GET_VIDEO: Step = Step::new("get video", "GET /v1/videos/{id}");
const UPDATE_VIDEO: Step = Step::new("update video", "PATCH /v1/videos/{id}");
const LIST_VIDEOS: Step = Step::new("list videos of owner", "GET /v1/videos?owner_id=");
const CREATE_LOCALIZATION: Step = Step::new(
    "create localization",
    "POST /v1/videos/{video_id}/localizations",
);
const GET_LOCALIZATION: Step = Step::new("get localization", "GET /v1/localizations/{id}");
const UPDATE_LOCALIZATION: Step = Step::new("update localization", "PATCH /v1/localizations/{id}");
const LIST_LOCALIZATIONS: Step = Step::new(
    "list localizations of video",
    "GET /v1/videos/{video_id}/localizations",
);
const DELETE_LOCALIZATION: Step = Step::new("delete localization", "DELETE /v1/localizations/{id}");
const GET_DELETED_LOCALIZATION: Step =
    Step::new("get deleted localization", "GET /v1/localizations/{id}");
const DELETE_USER_WITH_VIDEO: Step =
    Step::new("delete user who owns a video", "DELETE /v1/users/{id}");
const DELETE_VIDEO: Step = Step::new("delete video", "DELETE /v1/videos/{id}");
const GET_DELETED_VIDEO: Step = Step::new("get deleted video", "GET /v1/videos/{id}");
const DELETE_USER: Step = Step::new("delete user", "DELETE /v1/users/{id}");
const GET_DELETED_USER: Step = Step::new("get deleted user", "GET /v1/users/{id}");

/// Runs the smoke sequence against `deployment.app_url`.
pub async fn run(deployment: &Deployment) -> CheckResult {
    let started = Instant::now();
    tracing::info!(check = NAME, app_url = %deployment.app_url, "check started");

    let result = match smoke(deployment).await {
        Ok(findings) => CheckResult::from_findings(
            NAME,
            started.elapsed(),
            "user, video and localization created, read, updated, listed and deleted; \
             responses, rows and audit log agree",
            findings,
        ),
        Err(message) => CheckResult::error(NAME, started.elapsed(), message),
    };

    tracing::info!(check = NAME, status = ?result.status, message = %result.message, "check finished");
    result
}

/// Returns the findings, or the reason no verdict was reached.
async fn smoke(deployment: &Deployment) -> Result<Vec<String>, String> {
    let suffix = Uuid::new_v4().simple().to_string()[..12].to_owned();
    let actor = format!("crud.smoke-{suffix}");
    let api = Api::new(deployment, &actor).map_err(stop_message)?;
    let pool = deployment
        .pool(&deployment.auditor)
        .await
        .map_err(|error| {
            format!(
                "cannot connect to Postgres at {}:{} as the auditor role: {}; check that the \
             deployment is running",
                deployment.postgres_host,
                deployment.postgres_port,
                redact(deployment, &error.to_string())
            )
        })?;

    let mut run = SmokeRun {
        deployment,
        api,
        pool,
        actor,
        suffix,
        audit_after: 0,
        findings: Findings::default(),
        passwords: Vec::new(),
        hashes: Vec::new(),
        created: Created::default(),
    };
    let outcome = run.steps().await;
    run.clean_up().await;
    run.pool.close().await;

    match outcome {
        Ok(()) => {}
        Err(Stop::Finding(finding)) => run.findings.push_plain(finding),
        Err(Stop::Error(message)) => return Err(message),
    }
    Ok(run.findings.into_vec())
}

fn stop_message(stop: Stop) -> String {
    match stop {
        Stop::Finding(text) | Stop::Error(text) => text,
    }
}

/// Ids of what the run created and has not deleted yet, for clean-up after a stop.
#[derive(Default)]
struct Created {
    user: Option<Uuid>,
    video: Option<Uuid>,
    localization: Option<Uuid>,
}

struct SmokeRun<'a> {
    deployment: &'a Deployment,
    api: Api,
    /// Pool of the read-only auditor role.
    pool: PgPool,
    /// `X-Actor` of every request, unique to the run, which distinguishes the
    /// audit rows of this run from all others.
    actor: String,
    suffix: String,
    /// Highest audit_log id of this run seen so far.
    audit_after: i64,
    findings: Findings,
    /// Passwords the run sent, which no response may contain.
    passwords: Vec<Secret>,
    /// Password hashes read from the database, which no response may contain.
    hashes: Vec<Secret>,
    created: Created,
}

impl SmokeRun<'_> {
    /// Runs the sequence. Children are created after and deleted before their
    /// parents, as the foreign keys require.
    async fn steps(&mut self) -> Result<(), Stop> {
        let user = self.user_steps().await?;
        let video = self.video_steps(&user).await?;
        let localization = self.localization_steps(&video).await?;

        let path = format!("/v1/localizations/{}", localization.id);
        self.delete::<LocalizationRow>(DELETE_LOCALIZATION, GET_DELETED_LOCALIZATION, &path)
            .await?;
        self.created.localization = None;

        self.delete_user_with_video(&user).await?;

        let path = format!("/v1/videos/{}", video.id);
        self.delete::<VideoRow>(DELETE_VIDEO, GET_DELETED_VIDEO, &path)
            .await?;
        self.created.video = None;

        let path = format!("/v1/users/{}", user.id);
        self.delete::<UserRow>(DELETE_USER, GET_DELETED_USER, &path)
            .await?;
        self.created.user = None;
        Ok(())
    }

    async fn user_steps(&mut self) -> Result<UserRow, Stop> {
        let email = format!("crud-smoke-{}@example.test", self.suffix);
        let display_name = format!("Smoke User {}", self.suffix);
        let password = Secret::generate();
        self.passwords.push(password.clone());
        let body = json!({
            "email": email,
            "display_name": display_name,
            "password": password.expose(),
        });
        let sent = [
            ("email", text(&email)),
            ("display_name", text(&display_name)),
        ];
        let created: UserRow = self
            .exchange(
                CREATE_USER,
                Method::POST,
                "/v1/users",
                Some(&body),
                StatusCode::CREATED,
                &sent,
            )
            .await?;
        self.created.user = Some(created.id);
        self.check_hash(CREATE_USER, &created);
        self.expect_audit(CREATE_USER, "create", "user", created.id)
            .await?;

        let path = format!("/v1/users/{}", created.id);
        let _: UserRow = self
            .exchange(GET_USER, Method::GET, &path, None, StatusCode::OK, &sent)
            .await?;
        self.expect_no_audit(GET_USER).await?;

        let new_display_name = format!("Smoke User {} renamed", self.suffix);
        let new_password = Secret::generate();
        self.passwords.push(new_password.clone());
        let body = json!({
            "display_name": new_display_name,
            "password": new_password.expose(),
        });
        let sent = [
            ("email", text(&email)),
            ("display_name", text(&new_display_name)),
        ];
        let updated: UserRow = self
            .exchange(
                UPDATE_USER,
                Method::PATCH,
                &path,
                Some(&body),
                StatusCode::OK,
                &sent,
            )
            .await?;
        self.check_hash(UPDATE_USER, &updated);
        if updated.password_hash == created.password_hash {
            self.findings.push(
                UPDATE_USER,
                "field `password_hash`: database unchanged after a password update \
                 (hash present)",
            );
        }
        self.expect_audit(UPDATE_USER, "update", "user", created.id)
            .await?;

        self.log_in(&email, &new_password, &password, created.id)
            .await?;

        let total = count_users(&self.pool).await;
        let total = self.db(total)?;
        self.find_in_list(LIST_USERS, "/v1/users?", &updated, total, MAX_USER_PAGES)
            .await?;

        Ok(updated)
    }

    /// Logs in with the current password (200 and the user id) and the old
    /// one (401), neither of which writes an audit row.
    async fn log_in(
        &mut self,
        email: &str,
        password: &Secret,
        old_password: &Secret,
        user_id: Uuid,
    ) -> Result<(), Stop> {
        let body = json!({ "email": email, "password": password.expose() });
        let reply = self
            .send(LOGIN, Method::POST, "/v1/login", Some(&body))
            .await?;
        let json = reply.expect_json(LOGIN, StatusCode::OK)?;
        let seen = json.get("user_id").and_then(Value::as_str);
        if seen != Some(user_id.to_string().as_str()) {
            self.findings.push(
                LOGIN,
                format!("field `user_id`: response {seen:?}, database {user_id}"),
            );
        }
        self.expect_no_audit(LOGIN).await?;

        let body = json!({ "email": email, "password": old_password.expose() });
        let reply = self
            .send(LOGIN_OLD_PASSWORD, Method::POST, "/v1/login", Some(&body))
            .await?;
        reply.check_error(
            LOGIN_OLD_PASSWORD,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            &mut self.findings,
        );
        self.expect_no_audit(LOGIN_OLD_PASSWORD).await
    }

    async fn video_steps(&mut self, user: &UserRow) -> Result<VideoRow, Stop> {
        let title = format!("Smoke video {}", self.suffix);
        let body = json!({
            "owner_id": user.id,
            "title": title,
            "source_language": "en-US",
            "duration_seconds": 754,
            "status": "processing",
        });
        let sent = [
            ("owner_id", user.id.to_string()),
            ("title", text(&title)),
            ("source_language", text("en-US")),
            ("duration_seconds", "754".to_owned()),
            ("status", text("processing")),
        ];
        let created: VideoRow = self
            .exchange(
                CREATE_VIDEO,
                Method::POST,
                "/v1/videos",
                Some(&body),
                StatusCode::CREATED,
                &sent,
            )
            .await?;
        self.created.video = Some(created.id);
        self.expect_audit(CREATE_VIDEO, "create", "video", created.id)
            .await?;

        let path = format!("/v1/videos/{}", created.id);
        let _: VideoRow = self
            .exchange(GET_VIDEO, Method::GET, &path, None, StatusCode::OK, &sent)
            .await?;
        self.expect_no_audit(GET_VIDEO).await?;

        // The update changes the title on purpose: an app that ignores it must fail here.
        let new_title = format!("Smoke video {} retitled", self.suffix);
        let body = json!({ "title": new_title, "duration_seconds": 755, "status": "ready" });
        let sent = [
            ("owner_id", user.id.to_string()),
            ("title", text(&new_title)),
            ("source_language", text("en-US")),
            ("duration_seconds", "755".to_owned()),
            ("status", text("ready")),
        ];
        let updated: VideoRow = self
            .exchange(
                UPDATE_VIDEO,
                Method::PATCH,
                &path,
                Some(&body),
                StatusCode::OK,
                &sent,
            )
            .await?;
        self.expect_audit(UPDATE_VIDEO, "update", "video", created.id)
            .await?;

        let total = count_videos_of(&self.pool, user.id).await;
        let total = self.db(total)?;
        let path = format!("/v1/videos?owner_id={}&", user.id);
        self.find_in_list(LIST_VIDEOS, &path, &updated, total, 1)
            .await?;
        if total != 1 {
            self.findings.push(
                LIST_VIDEOS,
                format!("database has {total} videos of the new user, expected 1"),
            );
        }

        Ok(updated)
    }

    async fn localization_steps(&mut self, video: &VideoRow) -> Result<LocalizationRow, Stop> {
        let body = json!({ "target_language": "de-DE", "kind": "subtitles" });
        // The request leaves out status, so the contract's default applies.
        let sent = [
            ("video_id", video.id.to_string()),
            ("target_language", text("de-DE")),
            ("kind", text("subtitles")),
            ("status", text("pending")),
        ];
        let path = format!("/v1/videos/{}/localizations", video.id);
        let created: LocalizationRow = self
            .exchange(
                CREATE_LOCALIZATION,
                Method::POST,
                &path,
                Some(&body),
                StatusCode::CREATED,
                &sent,
            )
            .await?;
        self.created.localization = Some(created.id);
        self.expect_audit(CREATE_LOCALIZATION, "create", "localization", created.id)
            .await?;

        let item_path = format!("/v1/localizations/{}", created.id);
        let _: LocalizationRow = self
            .exchange(
                GET_LOCALIZATION,
                Method::GET,
                &item_path,
                None,
                StatusCode::OK,
                &sent,
            )
            .await?;
        self.expect_no_audit(GET_LOCALIZATION).await?;

        let body = json!({ "status": "in_progress" });
        let sent = [
            ("video_id", video.id.to_string()),
            ("target_language", text("de-DE")),
            ("kind", text("subtitles")),
            ("status", text("in_progress")),
        ];
        let updated: LocalizationRow = self
            .exchange(
                UPDATE_LOCALIZATION,
                Method::PATCH,
                &item_path,
                Some(&body),
                StatusCode::OK,
                &sent,
            )
            .await?;
        self.expect_audit(UPDATE_LOCALIZATION, "update", "localization", created.id)
            .await?;

        let total = count_localizations_of(&self.pool, video.id).await;
        let total = self.db(total)?;
        let list_path = format!("{path}?");
        self.find_in_list(LIST_LOCALIZATIONS, &list_path, &updated, total, 1)
            .await?;

        Ok(updated)
    }

    /// Deleting a user who still owns a video returns 409 and changes nothing.
    async fn delete_user_with_video(&mut self, user: &UserRow) -> Result<(), Stop> {
        let step = DELETE_USER_WITH_VIDEO;
        let path = format!("/v1/users/{}", user.id);
        let reply = self.send(step, Method::DELETE, &path, None).await?;
        reply.check_error(step, StatusCode::CONFLICT, "conflict", &mut self.findings);

        let row = UserRow::fetch(&self.pool, user.id).await;
        if self.db(row)?.is_none() {
            self.findings
                .push(step, "row is gone from users, expected it kept");
        }
        self.expect_no_audit(step).await
    }

    /// Sends a request whose response is one resource object, reads that
    /// resource's row by the returned id, and compares response, row and the
    /// `sent` values.
    async fn exchange<R: Record>(
        &mut self,
        step: Step,
        method: Method,
        path: &str,
        body: Option<&Value>,
        expected: StatusCode,
        sent: &[(&'static str, String)],
    ) -> Result<R, Stop> {
        let reply = self.send(step, method, path, body).await?;
        let json = reply.expect_json(step, expected)?;

        let id = json
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| Uuid::parse_str(id).ok())
            .ok_or_else(|| Stop::Finding(format!("{step}: response has no `id` that is a UUID")))?;
        let row = R::fetch(&self.pool, id).await;
        let row = self.db(row)?.ok_or_else(|| {
            Stop::Finding(format!(
                "{step}: no row with id {id} in {}, but the response returned it",
                R::TABLE
            ))
        })?;

        let response = fields_from_json(json, R::FIELDS);
        self.findings.compare(step, &response, &row.fields(), sent);
        Ok(row)
    }

    /// Pages through `path` (which ends in `?` or `&`) until `row` is found and
    /// compares it, the page's `limit` and `offset`, and `total` with the database.
    ///
    /// NOTE: `database_total` is counted just before the listing; a concurrent
    /// writer to the same table can make it differ from the response's total.
    async fn find_in_list<R: Record>(
        &mut self,
        step: Step,
        path: &str,
        row: &R,
        database_total: i64,
        max_pages: i64,
    ) -> Result<(), Stop> {
        let expected = row.fields();
        let id = expected.get("id").cloned().unwrap_or(Err(String::new()));
        let mut offset = 0;
        let mut found = false;
        let mut response_total = None;

        for _ in 0..max_pages {
            let page_path = format!("{path}limit={PAGE_LIMIT}&offset={offset}");
            let reply = self.send(step, Method::GET, &page_path, None).await?;
            let page = reply.expect_json(step, StatusCode::OK)?.clone();

            self.check_page_field(step, &page, "limit", PAGE_LIMIT);
            self.check_page_field(step, &page, "offset", offset);
            let total = page.get("total").and_then(Value::as_i64);
            response_total = response_total.or(total);
            let Some(items) = page.get("items").and_then(Value::as_array) else {
                return Err(Stop::Finding(format!(
                    "{step}: response has no `items` array"
                )));
            };

            let item = items.iter().find(|item| {
                fields_from_json(item, &[("id", FieldKind::Uuid)]).get("id") == Some(&id)
            });
            if let Some(item) = item {
                let response = fields_from_json(item, R::FIELDS);
                self.findings.compare(step, &response, &expected, &[]);
                found = true;
                break;
            }

            let page_len = items.len() as i64;
            if page_len == 0 || offset + page_len >= total.unwrap_or(0) {
                break;
            }
            offset += page_len;
        }

        if response_total != Some(database_total) {
            self.findings.push(
                step,
                format!(
                    "field `total`: response {}, database {database_total}",
                    response_total.map_or("missing".to_owned(), |total| total.to_string())
                ),
            );
        }
        if !found {
            self.findings.push(
                step,
                format!(
                    "the {} row {} is in no page of the list (read up to {max_pages} pages of \
                     {PAGE_LIMIT})",
                    R::TABLE,
                    id.unwrap_or_default()
                ),
            );
        }
        Ok(())
    }

    fn check_page_field(&mut self, step: Step, page: &Value, field: &str, expected: i64) {
        let seen = page.get(field).and_then(Value::as_i64);
        if seen != Some(expected) {
            self.findings.push(
                step,
                format!("field `{field}`: response {seen:?}, expected {expected} (requested)"),
            );
        }
    }

    /// Deletes the resource at `path` (204), then checks its row is gone, one
    /// delete was audited, and a GET returns 404 in the error shape.
    async fn delete<R: Record>(
        &mut self,
        step: Step,
        get_step: Step,
        path: &str,
    ) -> Result<(), Stop> {
        let id = path
            .rsplit('/')
            .next()
            .and_then(|id| Uuid::parse_str(id).ok())
            .expect("delete paths end in the resource's UUID");

        let reply = self.send(step, Method::DELETE, path, None).await?;
        if reply.status != StatusCode::NO_CONTENT {
            return Err(Stop::Finding(format!(
                "{step}: status {}, expected {}",
                reply.status,
                StatusCode::NO_CONTENT
            )));
        }

        let row = R::fetch(&self.pool, id).await;
        if self.db(row)?.is_some() {
            self.findings.push(
                step,
                format!("row {id} is still in {} after the delete", R::TABLE),
            );
        }
        self.expect_audit(step, "delete", R::ENTITY_TYPE, id)
            .await?;

        let reply = self.send(get_step, Method::GET, path, None).await?;
        reply.check_error(
            get_step,
            StatusCode::NOT_FOUND,
            "not_found",
            &mut self.findings,
        );
        self.expect_no_audit(get_step).await
    }

    /// Sends a request and checks what every response must satisfy: an
    /// `X-Request-Id` header and no password or password hash in the body.
    async fn send(
        &mut self,
        step: Step,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, Stop> {
        let reply = self.api.send(step, method, path, body).await?;
        reply.check_request_id(step, &mut self.findings);
        self.check_no_secret(step, &reply);
        Ok(reply)
    }

    fn check_no_secret(&mut self, step: Step, reply: &Reply) {
        if self
            .passwords
            .iter()
            .any(|password| reply.body.contains(password.expose()))
        {
            self.findings
                .push(step, "response contains a password the check sent");
        }
        let hash_in_body = reply.body.contains("$argon2")
            || self
                .hashes
                .iter()
                .any(|hash| reply.body.contains(hash.expose()));
        if hash_in_body {
            self.findings
                .push(step, "response contains a password hash (hash present)");
        }
        if let Some(json) = &reply.json
            && let Some(key) = find_password_key(json)
        {
            self.findings
                .push(step, format!("response has a field `{key}`"));
        }
    }

    /// Checks that the row's password hash is an argon2id PHC string and
    /// remembers it, so no later response may contain it.
    fn check_hash(&mut self, step: Step, row: &UserRow) {
        if !row.password_hash.starts_with(ARGON2ID_PREFIX) {
            self.findings.push(
                step,
                format!(
                    "field `password_hash`: database value does not start with \
                     {ARGON2ID_PREFIX} (hash present, value not shown)"
                ),
            );
        }
        self.hashes.push(Secret::new(row.password_hash.clone()));
    }

    /// Checks that the audit log gained exactly one row for this run since the
    /// last check, with `action`, `entity_type` and `entity_id`.
    async fn expect_audit(
        &mut self,
        step: Step,
        action: &str,
        entity_type: &str,
        entity_id: Uuid,
    ) -> Result<(), Stop> {
        let rows = self.new_audit_rows().await?;
        let [row] = rows.as_slice() else {
            self.findings.push(
                step,
                format!(
                    "audit_log gained {} rows with actor {:?}, expected 1 ({action} \
                     {entity_type} {entity_id})",
                    rows.len(),
                    self.actor
                ),
            );
            return Ok(());
        };

        if row.action != action {
            self.findings.push(
                step,
                format!(
                    "audit_log field `action`: database {:?}, expected {action:?}",
                    row.action
                ),
            );
        }
        if row.entity_type != entity_type {
            self.findings.push(
                step,
                format!(
                    "audit_log field `entity_type`: database {:?}, expected {entity_type:?}",
                    row.entity_type
                ),
            );
        }
        if row.entity_id != entity_id {
            self.findings.push(
                step,
                format!(
                    "audit_log field `entity_id`: database {}, expected {entity_id}",
                    row.entity_id
                ),
            );
        }
        Ok(())
    }

    /// Checks that the audit log gained no row for this run: reads, logins and
    /// rejected requests are not mutations.
    async fn expect_no_audit(&mut self, step: Step) -> Result<(), Stop> {
        let rows = self.new_audit_rows().await?;
        if !rows.is_empty() {
            let actions: Vec<String> = rows
                .iter()
                .map(|row| format!("{} {} {}", row.action, row.entity_type, row.entity_id))
                .collect();
            self.findings.push(
                step,
                format!(
                    "audit_log gained {} rows, expected none: {}",
                    rows.len(),
                    actions.join("; ")
                ),
            );
        }
        Ok(())
    }

    async fn new_audit_rows(&mut self) -> Result<Vec<AuditRow>, Stop> {
        let rows = AuditRow::fetch_after(&self.pool, &self.actor, self.audit_after).await;
        let rows = self.db(rows)?;
        if let Some(last) = rows.last() {
            self.audit_after = last.id;
        }
        Ok(rows)
    }

    /// Turns a database error into a stop without a verdict, redacted.
    fn db<T>(&self, result: Result<T, sqlx::Error>) -> Result<T, Stop> {
        result.map_err(|error| {
            Stop::Error(format!(
                "reading the database as the auditor role failed: {}",
                redact(self.deployment, &error.to_string())
            ))
        })
    }

    /// Deletes what a stopped run left behind, children first. Failures are
    /// logged and otherwise ignored: the values are unique to the run.
    async fn clean_up(&mut self) {
        let leftovers = [
            self.created
                .localization
                .map(|id| format!("/v1/localizations/{id}")),
            self.created.video.map(|id| format!("/v1/videos/{id}")),
            self.created.user.map(|id| format!("/v1/users/{id}")),
        ];
        let step = Step::new("clean up", "DELETE");
        for path in leftovers.into_iter().flatten() {
            match self.api.send(step, Method::DELETE, &path, None).await {
                Ok(reply) if reply.status == StatusCode::NO_CONTENT => {}
                Ok(reply) => {
                    tracing::warn!(check = NAME, %path, status = %reply.status, "clean-up delete failed");
                }
                Err(stop) => {
                    tracing::warn!(check = NAME, %path, error = %stop_message(stop), "clean-up delete failed");
                }
            }
        }
    }
}

/// Returns the first object key, at any depth, whose name contains `password`.
fn find_password_key(value: &Value) -> Option<String> {
    match value {
        Value::Object(map) => map.iter().find_map(|(key, value)| {
            if key.to_ascii_lowercase().contains("password") {
                Some(key.clone())
            } else {
                find_password_key(value)
            }
        }),
        Value::Array(items) => items.iter().find_map(find_password_key),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_key_found_nested() {
        let value = json!({"items": [{"id": 1, "password_hash": "x"}]});

        assert_eq!(find_password_key(&value).as_deref(), Some("password_hash"));
    }

    #[test]
    fn password_key_absent() {
        let value = json!({"id": 1, "email": "a@example.test"});

        assert_eq!(find_password_key(&value), None);
    }
}
