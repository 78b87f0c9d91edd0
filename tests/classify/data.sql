-- Rows changed, and data destroyed.
-- expect: data - RowExclusiveLock transactional
UPDATE users SET login_version = 1 WHERE login_version IS NULL;
-- expect: data - RowExclusiveLock transactional
INSERT INTO users (name, email) VALUES ('a', 'a@example.com');
-- expect: data destructive RowExclusiveLock transactional
DELETE FROM sessions WHERE expires_at < now();
-- expect: data destructive AccessExclusiveLock transactional
TRUNCATE sessions;
-- A SELECT that writes (the keyword reader called it a read).
-- expect: data - AccessShareLock transactional
SELECT setval('users_id_seq', (SELECT max(id) FROM users));
-- A DELETE inside a WITH deletes, whatever the SELECT around it.
-- expect: data destructive RowExclusiveLock transactional
WITH gone AS (DELETE FROM sessions WHERE expires_at < now() RETURNING id) SELECT count(*) FROM gone;
