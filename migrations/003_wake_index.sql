-- The scheduler's "when is the next job of this payer due" query
-- (SELECT MIN(next_ms) FROM members WHERE payer=? AND state<=5) read every waiting job through
-- members_runnable; this index answers it with one seek, so the scheduler's cost per pass no
-- longer grows with the number of waiting members.
CREATE INDEX members_wake ON members(payer, next_ms) WHERE state <= 5;
