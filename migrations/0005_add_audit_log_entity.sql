-- The audited entity as the API returns it after the change, so that the log
-- shows what a change set and not only that it happened. Deletes store NULL.
-- It never contains a secret: users appear without their password hash.
-- A nullable column without a default changes only the catalog, so existing
-- rows are not rewritten and the table is locked only briefly.
ALTER TABLE audit_log ADD COLUMN entity jsonb;
