-- Videos: source videos owned by a user. A user who still owns videos cannot
-- be deleted (ON DELETE RESTRICT).
CREATE TABLE videos (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id uuid NOT NULL,
    title text NOT NULL,
    source_language text NOT NULL,
    duration_seconds integer NOT NULL,
    status text NOT NULL DEFAULT 'draft',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT videos_owner_id_fkey
        FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT videos_title_check
        CHECK (char_length(title) BETWEEN 1 AND 200),
    -- The app checks the full BCP-47 syntax. This is the coarse shape: subtags
    -- of 1 to 8 letters or digits joined by hyphens, at most 35 characters.
    CONSTRAINT videos_source_language_check
        CHECK (char_length(source_language) <= 35
               AND source_language ~ '^[A-Za-z0-9]{1,8}(-[A-Za-z0-9]{1,8})*$'),
    CONSTRAINT videos_duration_seconds_check
        CHECK (duration_seconds BETWEEN 0 AND 86400),
    CONSTRAINT videos_status_check
        CHECK (status IN ('draft', 'processing', 'ready', 'failed')),
    CONSTRAINT videos_updated_at_check
        CHECK (updated_at >= created_at)
);

-- Serves the owner_id foreign key (the RESTRICT check on user delete) and
-- GET /v1/videos?owner_id=, which lists in (created_at, id) order.
CREATE INDEX videos_owner_id_created_at_id_idx ON videos (owner_id, created_at, id);

-- GET /v1/videos without owner_id lists in (created_at, id) order.
CREATE INDEX videos_created_at_id_idx ON videos (created_at, id);

GRANT SELECT, INSERT, UPDATE, DELETE ON videos TO lv_app;
GRANT SELECT ON videos TO lv_auditor;
