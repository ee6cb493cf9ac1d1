-- Audit log: one row per successful create, update or delete, written in the
-- same transaction as the change. It never contains a secret value.
CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor text NOT NULL,
    action text NOT NULL,
    entity_type text NOT NULL,
    entity_id uuid NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audit_log_actor_check
        CHECK (char_length(actor) BETWEEN 1 AND 100),
    CONSTRAINT audit_log_action_check
        CHECK (action IN ('create', 'update', 'delete')),
    CONSTRAINT audit_log_entity_type_check
        CHECK (entity_type IN ('user', 'video', 'localization'))
);

-- Reads of one entity's history. entity_id has no foreign key on purpose: the
-- log keeps the rows of deleted entities.
CREATE INDEX audit_log_entity_type_entity_id_idx ON audit_log (entity_type, entity_id);

-- The app appends and reads; it never updates or deletes audit rows.
GRANT SELECT, INSERT ON audit_log TO lv_app;
GRANT SELECT ON audit_log TO lv_auditor;
