-- The audited entity as the API returns it after the change, so that the log
-- shows what a change set and not only that it happened. Deletes store NULL.
-- It never contains a secret: users appear without their password hash.
-- A nullable column without a default changes only the catalog, so existing
-- rows are not rewritten and the table is locked only briefly. Waiting for the
-- ACCESS EXCLUSIVE lock behind a long transaction would block every read and
-- write of audit_log meanwhile, so the migration gives up after lock_timeout.
-- SET LOCAL lasts until the end of the migration's transaction.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '30s';

ALTER TABLE audit_log ADD COLUMN entity jsonb;
