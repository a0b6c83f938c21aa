ALTER TABLE variables DROP COLUMN allowed_values;
DROP TABLE memberships;
DROP TABLE users;
