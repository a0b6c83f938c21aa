ALTER TABLE data_sources DROP COLUMN options;
ALTER TABLE accounts DROP COLUMN time_zone;
