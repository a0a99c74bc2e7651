-- API tokens: public facts only. The token's secret is never stored; its wrapped copy of the
-- data key lives in key_wraps under 'token:<id>' and is deleted when the token is revoked.
CREATE TABLE api_tokens (
    id      TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    label   TEXT NOT NULL,
    created TEXT NOT NULL,
    revoked TEXT
) STRICT;
