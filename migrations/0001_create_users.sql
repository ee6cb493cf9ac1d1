-- Users: accounts that own videos. The password is stored only as an argon2id
-- PHC string, and the API never returns it.
CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL,
    display_name text NOT NULL,
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_check
        CHECK (char_length(email) BETWEEN 3 AND 254 AND position('@' IN email) > 1),
    CONSTRAINT users_display_name_check
        CHECK (char_length(display_name) BETWEEN 1 AND 100),
    CONSTRAINT users_password_hash_check
        CHECK (password_hash LIKE '$argon2id$%'),
    CONSTRAINT users_updated_at_check
        CHECK (updated_at >= created_at)
);

-- Email is unique regardless of case but stored as sent.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

-- GET /v1/users lists in (created_at, id) order.
CREATE INDEX users_created_at_id_idx ON users (created_at, id);

GRANT SELECT, INSERT, UPDATE, DELETE ON users TO lv_app;
GRANT SELECT ON users TO lv_auditor;

-- sqlx creates _sqlx_migrations before it applies the first migration. The app
-- reads it for /readyz, and the auditor reads it in checks.
GRANT SELECT ON _sqlx_migrations TO lv_app, lv_auditor;
