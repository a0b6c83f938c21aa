DROP TABLE fetch_samples;
ALTER TABLE instances
    DROP COLUMN last_fetch_duration_us,
    DROP COLUMN last_fetch_bytes,
    DROP COLUMN last_fetch_pages,
    DROP COLUMN last_fetch_limit_wait_us;
ALTER TABLE refresh_jobs DROP COLUMN limit_wait_us, DROP COLUMN limit_deferred_at;
