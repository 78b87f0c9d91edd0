-- What the older version relies on, taken away.
-- expect: contract destructive AccessExclusiveLock transactional
ALTER TABLE users DROP COLUMN password_sha1;
-- expect: contract - AccessExclusiveLock transactional
ALTER TABLE users RENAME COLUMN name TO full_name;
-- expect: contract - AccessExclusiveLock transactional
ALTER TABLE orders ALTER COLUMN total_cents TYPE bigint;
-- expect: contract - AccessExclusiveLock transactional
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
-- expect: contract - ShareRowExclusiveLock transactional
ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
-- expect: contract destructive AccessExclusiveLock transactional
DROP TABLE IF EXISTS legacy_sessions;
