-- a typical small migration
ALTER TABLE users ADD COLUMN age integer;
CREATE INDEX users_email_idx ON users (email);
ALTER TABLE users DROP COLUMN nickname;
