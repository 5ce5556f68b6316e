-- p2p-ingest state database, version 2: member counts kept by triggers, so that /status and
-- `p2p-ingestd status` read a handful of rows instead of counting a million members.
-- member_counts holds one row per (payer, state) ever seen; n may drop to 0 (the row stays).
-- Invariant: member_counts equals SELECT payer, state, COUNT(*) FROM members GROUP BY 1, 2
-- (rows with n = 0 aside).
CREATE TABLE member_counts (
  payer TEXT    NOT NULL,
  state INTEGER NOT NULL,
  n     INTEGER NOT NULL,
  PRIMARY KEY (payer, state)
) WITHOUT ROWID;

INSERT INTO member_counts(payer, state, n)
  SELECT payer, state, COUNT(*) FROM members GROUP BY payer, state;

CREATE TRIGGER member_counts_insert AFTER INSERT ON members BEGIN
  INSERT INTO member_counts(payer, state, n) VALUES (NEW.payer, NEW.state, 1)
    ON CONFLICT(payer, state) DO UPDATE SET n = n + 1;
END;

-- SaveJob writes state on every save: only a real change moves a count.
CREATE TRIGGER member_counts_update AFTER UPDATE OF state, payer ON members
  WHEN OLD.state IS NOT NEW.state OR OLD.payer IS NOT NEW.payer BEGIN
  UPDATE member_counts SET n = n - 1 WHERE payer = OLD.payer AND state = OLD.state;
  INSERT INTO member_counts(payer, state, n) VALUES (NEW.payer, NEW.state, 1)
    ON CONFLICT(payer, state) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER member_counts_delete AFTER DELETE ON members BEGIN
  UPDATE member_counts SET n = n - 1 WHERE payer = OLD.payer AND state = OLD.state;
END;
