-- Flyway migration shipped with v2 for the audit service
ALTER TABLE orders ALTER COLUMN total TYPE integer;
ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);
