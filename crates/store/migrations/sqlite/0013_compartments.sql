-- Compartment keys (docs/architecture.md, "Compartments"). Each user's public key (the secret
-- half is wrapped under their passphrase in key_wraps); each compartment's public key per
-- generation; its secret half wrapped to each holder (a user's id, or 'recovery'); and each
-- record's key, wrapped to the compartment the record lives in.
CREATE TABLE user_keys (
    user_id    TEXT PRIMARY KEY REFERENCES users (id),
    public_key TEXT NOT NULL
) STRICT;
CREATE TABLE compartments (
    compartment TEXT NOT NULL,
    generation  INTEGER NOT NULL,
    public_key  TEXT NOT NULL,
    PRIMARY KEY (compartment, generation)
) STRICT;
CREATE TABLE compartment_wraps (
    compartment TEXT NOT NULL,
    generation  INTEGER NOT NULL,
    holder      TEXT NOT NULL,
    wrapped     TEXT NOT NULL,
    PRIMARY KEY (compartment, generation, holder)
) STRICT;
CREATE INDEX compartment_wraps_holder ON compartment_wraps (holder);
CREATE TABLE record_keys (
    id          TEXT PRIMARY KEY,
    compartment TEXT NOT NULL,
    generation  INTEGER NOT NULL,
    wrapped     TEXT NOT NULL
) STRICT;
CREATE INDEX record_keys_compartment ON record_keys (compartment, generation);
