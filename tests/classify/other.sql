-- Reads, settings, maintenance.
-- expect: read - AccessShareLock transactional
SELECT id, name FROM users WHERE id = 1;
-- expect: read - RowShareLock transactional
SELECT id FROM users WHERE id = 1 FOR UPDATE;
-- expect: other - - transactional
SET lock_timeout = '500ms';
-- expect: other - - transactional
BEGIN;
-- expect: other - ShareUpdateExclusiveLock transactional
ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;
-- expect: other - ShareUpdateExclusiveLock non-transactional
VACUUM users;
-- expect: other - AccessExclusiveLock non-transactional
VACUUM FULL users;
-- expect: other - ShareUpdateExclusiveLock non-transactional
REINDEX INDEX CONCURRENTLY users_email_idx;
-- expect: other - ShareLock transactional
LOCK TABLE users IN SHARE MODE;
-- A DO block runs code the parser does not look into.
-- expect: other - - transactional
DO $$ BEGIN PERFORM 1; END $$;
-- An index holds no data and no app version names it: dropping one is
-- maintenance (the cleanup after a failed CREATE INDEX CONCURRENTLY).
-- expect: other - ShareUpdateExclusiveLock non-transactional
DROP INDEX CONCURRENTLY IF EXISTS users_phone_idx;
-- expect: other - AccessExclusiveLock transactional
DROP INDEX users_email_idx;
