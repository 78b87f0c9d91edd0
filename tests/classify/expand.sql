-- Additive changes: the old version keeps working.
-- expect: expand - AccessExclusiveLock transactional
ALTER TABLE users ADD COLUMN phone text;
-- A column named `type` is still an added column (the keyword reader
-- called it a type change, a contract).
-- expect: expand - AccessExclusiveLock transactional
ALTER TABLE users ADD COLUMN type text;
-- expect: expand - - transactional
CREATE TABLE login_events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id bigint NOT NULL);
-- expect: expand - ShareLock transactional
CREATE INDEX users_email_idx ON users (email);
-- expect: expand - ShareUpdateExclusiveLock non-transactional
CREATE INDEX CONCURRENTLY users_phone_idx ON users (phone);
-- expect: expand - AccessExclusiveLock transactional
ALTER TABLE users ALTER COLUMN login_version DROP NOT NULL;
-- expect: expand - - transactional
CREATE VIEW active_users AS SELECT id, name FROM users WHERE active;
