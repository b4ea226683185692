ALTER TABLE users RENAME COLUMN language TO locale;
