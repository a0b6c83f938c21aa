DROP TABLE cached_data;
DROP TABLE api_permits;
DROP TABLE api_limits;
DROP TRIGGER refresh_jobs_queued ON refresh_jobs;
DROP FUNCTION refresh_jobs_notify();
DROP TABLE refresh_jobs;
DROP TABLE instances;
DROP TABLE account_activity;
