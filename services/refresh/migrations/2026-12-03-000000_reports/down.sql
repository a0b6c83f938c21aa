DROP TABLE report_deliveries;
DROP TABLE report_schedules;
ALTER TABLE refresh_jobs DROP COLUMN trace_context;
