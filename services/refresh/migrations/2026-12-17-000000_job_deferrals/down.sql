ALTER TABLE refresh_jobs DROP COLUMN deferrals;
