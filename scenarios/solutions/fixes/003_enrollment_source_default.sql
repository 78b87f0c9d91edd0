-- Corrective forward migration for startup-migration-no-down: give the new
-- column a default, so v1 (which does not name `source`) can insert again.
-- Idempotent: setting a default twice is harmless.
ALTER TABLE enrollments ALTER COLUMN source SET DEFAULT 'web';
