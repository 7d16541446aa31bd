-- What proves, without revealing it, which secret key the relays sharing
-- this database seal and chain with (keycheck.go): one row, written by
-- the first relay that opens the database.
CREATE TABLE secret_key_check (
    id    bigint PRIMARY KEY CHECK (id = 1),
    check_mac bytea NOT NULL
);
