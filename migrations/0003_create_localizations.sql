-- Localizations: one subtitle or dubbing track of a video in a target
-- language. Deleting a video deletes its localizations (ON DELETE CASCADE).
CREATE TABLE localizations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    video_id uuid NOT NULL,
    target_language text NOT NULL,
    kind text NOT NULL,
    status text NOT NULL DEFAULT 'pending',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT localizations_video_id_fkey
        FOREIGN KEY (video_id) REFERENCES videos (id) ON DELETE CASCADE,
    CONSTRAINT localizations_video_id_target_language_kind_key
        UNIQUE (video_id, target_language, kind),
    -- Same coarse BCP-47 shape as videos.source_language.
    CONSTRAINT localizations_target_language_check
        CHECK (char_length(target_language) <= 35
               AND target_language ~ '^[A-Za-z0-9]{1,8}(-[A-Za-z0-9]{1,8})*$'),
    CONSTRAINT localizations_kind_check
        CHECK (kind IN ('subtitles', 'dubbing')),
    CONSTRAINT localizations_status_check
        CHECK (status IN ('pending', 'in_progress', 'done', 'failed')),
    CONSTRAINT localizations_updated_at_check
        CHECK (updated_at >= created_at)
);

-- Serves the video_id foreign key (the cascade on video delete) and
-- GET /v1/videos/{video_id}/localizations, which lists in (created_at, id) order.
CREATE INDEX localizations_video_id_created_at_id_idx
    ON localizations (video_id, created_at, id);

GRANT SELECT, INSERT, UPDATE, DELETE ON localizations TO lv_app;
GRANT SELECT ON localizations TO lv_auditor;
