//! The `users` table.

use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, Row};
use uuid::Uuid;

use super::{Database, DbError, audit};
use crate::audit::{Action, Actor, AuditEntry, EntityType, entity_json};
use crate::model::{NewUser, User, UserChanges};
use crate::pagination::PageRequest;

/// Columns of a [`User`], as a literal for `concat!` so that queries stay
/// `&'static str`.
macro_rules! user_columns {
    () => {
        "id, email, display_name, created_at, updated_at"
    };
}

/// Login data of a user: the id and the stored hash. No `Debug`, because it
/// contains the password hash.
pub struct LoginRecord {
    pub user_id: Uuid,
    pub password_hash: String,
}

impl FromRow<'_, PgRow> for User {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            display_name: row.try_get("display_name")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

fn audit_entry(
    actor: &Actor,
    action: Action,
    user_id: Uuid,
    entity: Option<serde_json::Value>,
) -> AuditEntry<'_> {
    AuditEntry {
        actor,
        action,
        entity,
        entity_type: EntityType::User,
        entity_id: user_id,
    }
}

/// Returns what the audit row of a user change stores in `entity`: the API's representation of
/// the user. With the fail point `audit.user.store_full_row` active, it is the whole `users`
/// row instead, password hash included.
async fn audit_entity(
    conn: &mut PgConnection,
    user: &User,
) -> Result<Option<serde_json::Value>, DbError> {
    #[cfg(feature = "failpoints")]
    if crate::faults::is_active(crate::faults::AUDIT_USER_STORES_FULL_ROW) {
        let row: serde_json::Value =
            sqlx::query_scalar("SELECT to_jsonb(users) FROM users WHERE id = $1")
                .bind(user.id)
                .fetch_one(conn)
                .await?;
        return Ok(Some(row));
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = conn;
    Ok(entity_json(user))
}

impl Database {
    /// Inserts a user and its audit entry.
    pub async fn create_user(&self, user: &NewUser, actor: &Actor) -> Result<User, DbError> {
        let mut tx = self.pool.begin().await?;

        let created: User = sqlx::query_as(concat!(
            "INSERT INTO users (email, display_name, password_hash) VALUES ($1, $2, $3) \
             RETURNING ",
            user_columns!()
        ))
        .bind(&user.email)
        .bind(&user.display_name)
        .bind(&user.password_hash)
        .fetch_one(&mut *tx)
        .await?;

        let entity = audit_entity(&mut tx, &created).await?;
        audit::insert(
            &mut tx,
            &audit_entry(actor, Action::Create, created.id, entity),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Fetches one user.
    pub async fn get_user(&self, id: Uuid) -> Result<Option<User>, DbError> {
        let user = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(user)
    }

    /// Lists users in (created_at, id) order, with the total count read in
    /// the same snapshot.
    pub async fn list_users(&self, page: PageRequest) -> Result<(Vec<User>, i64), DbError> {
        let mut tx = self.begin_read_snapshot().await?;

        let users = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users ORDER BY created_at, id LIMIT $1 OFFSET $2"
        ))
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&mut *tx)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&mut *tx)
            .await?;

        tx.commit().await?;
        Ok((users, total))
    }

    /// Applies the changes and writes the audit entry; `None` when the user
    /// does not exist.
    pub async fn update_user(
        &self,
        id: Uuid,
        changes: &UserChanges,
        actor: &Actor,
    ) -> Result<Option<User>, DbError> {
        let mut tx = self.pool.begin().await?;

        // GREATEST keeps updated_at from going before created_at if the
        // database clock steps back.
        let updated: Option<User> = sqlx::query_as(concat!(
            "UPDATE users SET \
                 email = COALESCE($2, email), \
                 display_name = COALESCE($3, display_name), \
                 password_hash = COALESCE($4, password_hash), \
                 updated_at = GREATEST(now(), created_at) \
             WHERE id = $1 RETURNING ",
            user_columns!()
        ))
        .bind(id)
        .bind(&changes.email)
        .bind(&changes.display_name)
        .bind(&changes.password_hash)
        .fetch_optional(&mut *tx)
        .await?;

        let Some(updated) = updated else {
            return Ok(None);
        };
        let entity = audit_entity(&mut tx, &updated).await?;
        audit::insert(&mut tx, &audit_entry(actor, Action::Update, id, entity)).await?;
        tx.commit().await?;
        Ok(Some(updated))
    }

    /// Deletes a user and writes the audit entry; `false` when the user does
    /// not exist. A user who still owns videos fails with
    /// [`DbErrorKind::ForeignKeyViolation`](super::DbErrorKind).
    pub async fn delete_user(&self, id: Uuid, actor: &Actor) -> Result<bool, DbError> {
        let audit_outside = audit_outside_transaction_fault_active();
        if audit_outside {
            tracing::warn!(
                "fail point user.delete.audit_outside_transaction is active: committing the \
                 audit row before the delete"
            );
            let mut connection = self.pool.acquire().await?;
            audit::insert(
                &mut connection,
                &audit_entry(actor, Action::Delete, id, None),
            )
            .await?;
        }

        let mut tx = self.pool.begin().await?;

        let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
        }

        if !audit_outside {
            audit::insert(&mut tx, &audit_entry(actor, Action::Delete, id, None)).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Finds the login record for an email, compared regardless of case.
    pub async fn find_login(&self, email: &str) -> Result<Option<LoginRecord>, DbError> {
        let row = sqlx::query("SELECT id, password_hash FROM users WHERE lower(email) = lower($1)")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(LoginRecord {
            user_id: row.try_get("id")?,
            password_hash: row.try_get("password_hash")?,
        }))
    }

    /// Starts a read-only transaction whose reads all see one snapshot, so
    /// that a page and its total agree.
    pub(super) async fn begin_read_snapshot(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, DbError> {
        let tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        Ok(tx)
    }
}

/// Fail point `user.delete.audit_outside_transaction`: DELETE /v1/users/{id} commits its audit
/// row on its own before the delete runs, so a delete that is then rejected (the user still
/// owns videos) or finds no user leaves that row behind. Compiled only with the `failpoints`
/// feature.
fn audit_outside_transaction_fault_active() -> bool {
    #[cfg(feature = "failpoints")]
    {
        fail::eval("user.delete.audit_outside_transaction", |_| ()).is_some()
    }
    #[cfg(not(feature = "failpoints"))]
    {
        false
    }
}
