-- When a user's login last resolved an account's data sources through the library: another
-- login of the same user in the same active account within TRELLIS_REFRESH_ACTIVITY_THROTTLE
-- resolves nothing again, so a looped RecordActivity costs one small write, not a library
-- call per data source. Rows older than the throttle are deleted by the scheduler.
CREATE TABLE activity_syncs (
    account_id uuid        NOT NULL,
    user_id    text        NOT NULL,
    synced_at  timestamptz NOT NULL,
    PRIMARY KEY (account_id, user_id)
);

CREATE INDEX activity_syncs_synced_at ON activity_syncs (synced_at);
