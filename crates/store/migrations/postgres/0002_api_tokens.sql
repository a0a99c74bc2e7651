-- API tokens: public facts only (see SQLite 0007).
CREATE TABLE api_tokens (
    id      TEXT COLLATE "C" PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    label   TEXT NOT NULL,
    created TEXT COLLATE "C" NOT NULL,
    revoked TEXT
);
