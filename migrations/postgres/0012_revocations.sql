-- Projection `revocations`: per signed-in subject (the `sub` of its tokens), the time at or before
-- which its tokens were issued are refused (the latest `SessionsRevoked` of its
-- `SessionRevocation` stream). Read on every authenticated request by primary key.
CREATE TABLE revocations
(
    sub            text PRIMARY KEY,
    list_order     bigint NOT NULL UNIQUE,
    revoked_before text   NOT NULL,
    version        bigint NOT NULL,
    document       text   NOT NULL
);
