-- A forward fix that is not idempotent: the second run fails on the ADD
-- COLUMN (42701 duplicate_column). pgdrill refuses it.
ALTER TABLE enrollments ADD COLUMN source_legacy text;
ALTER TABLE enrollments ALTER COLUMN source DROP NOT NULL;
