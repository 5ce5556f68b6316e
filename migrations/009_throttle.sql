-- p2p-ingest state database, version 9: a job's wait for a throttling payer.
--
-- members.throttled_since_ms: unix ms when the job's current step first met the payer throttling
-- (429, or 503 with Retry-After); NULL when it is not waiting for one. Throttling answers count no
-- attempt; the job fails with class `throttled` once it has waited longer than the payer's
-- retry.give_up_after at one step (poll.timeout while polling). Any progress clears it.
ALTER TABLE members ADD COLUMN throttled_since_ms INTEGER;
