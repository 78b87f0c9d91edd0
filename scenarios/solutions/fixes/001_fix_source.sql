-- A forward fix with a version lower than the migrations already applied:
-- pgdrill refuses it (a forward fix gets a higher version).
ALTER TABLE enrollments ALTER COLUMN source SET DEFAULT 'web';
