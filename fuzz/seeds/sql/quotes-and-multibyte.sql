ALTER TABLE users ADD COLUMN prénom text;
SELECT $tag$ ; $tag$; -- ; é
/* nested /* ; */ ; */ SELECT E'\';';
CREATE INDEX CONCURRENTLY i ON t (c);
DROP TABLE "a;b";
