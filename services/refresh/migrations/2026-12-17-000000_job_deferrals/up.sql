-- How many times in a row a job was deferred by a 429 or by a peer that did not answer
-- (deferrals by an API limit of this service's own are not counted). Past
-- TRELLIS_REFRESH_MAX_DEFERRALS the next one fails the job with a counted failure, so that
-- an instance whose API answers 429 forever backs off (F8) instead of returning to the
-- front of the queue every few seconds.
ALTER TABLE refresh_jobs ADD COLUMN deferrals integer NOT NULL DEFAULT 0;
