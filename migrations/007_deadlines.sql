-- p2p-ingest state database, version 7: CMS-0057-F deadline counts kept by triggers, so that
-- /status, /metrics and `p2p-ingestd status` report on-time / late / at-risk members per payer
-- without counting a million members (lib/state/deadline_db.cpp reads them).
--
-- A member's request is its first $member-match (members.requested_ms); its deadline
-- (members.deadline, unix s) is the last second of the seventh day after coverage start or
-- opt-in, whichever is later (core/civil_date.h RequestDeadlineUnix). Requested "late" means
-- requested_ms / 1000 > deadline, as the job runner judges it.
--
-- deadline_requested: members already requested, by payer and whether that was late; one row per
-- (payer, late); n may drop to 0 (the row stays).
-- Invariant: equals SELECT payer, requested_ms/1000 > deadline, COUNT(*) FROM members
--            WHERE requested_ms IS NOT NULL GROUP BY 1, 2.
CREATE TABLE deadline_requested (
  payer TEXT    NOT NULL,
  late  INTEGER NOT NULL,  -- 0 on time, 1 late
  n     INTEGER NOT NULL,
  PRIMARY KEY (payer, late)
) WITHOUT ROWID;

-- deadline_unrequested: active members (state <= 5) not yet requested, by payer and deadline.
-- Whether they are late or at risk depends on the clock, so the reader sums ranges of deadlines.
-- Deadlines fall on one second per day, so the table holds at most one row per payer and day with
-- waiting members, whatever the number of members; a row whose count drops to 0 is deleted.
-- Invariant: equals SELECT payer, deadline, COUNT(*) FROM members
--            WHERE state <= 5 AND requested_ms IS NULL GROUP BY 1, 2.
CREATE TABLE deadline_unrequested (
  payer    TEXT    NOT NULL,
  deadline INTEGER NOT NULL,
  n        INTEGER NOT NULL,
  PRIMARY KEY (payer, deadline)
) WITHOUT ROWID;

INSERT INTO deadline_requested(payer, late, n)
  SELECT payer, requested_ms / 1000 > deadline, COUNT(*) FROM members
  WHERE requested_ms IS NOT NULL GROUP BY 1, 2;
INSERT INTO deadline_unrequested(payer, deadline, n)
  SELECT payer, deadline, COUNT(*) FROM members
  WHERE state <= 5 AND requested_ms IS NULL GROUP BY 1, 2;

CREATE TRIGGER deadline_counts_insert AFTER INSERT ON members BEGIN
  INSERT INTO deadline_unrequested(payer, deadline, n)
    SELECT NEW.payer, NEW.deadline, 1 WHERE NEW.state <= 5 AND NEW.requested_ms IS NULL
    ON CONFLICT(payer, deadline) DO UPDATE SET n = n + 1;
  INSERT INTO deadline_requested(payer, late, n)
    SELECT NEW.payer, NEW.requested_ms / 1000 > NEW.deadline, 1 WHERE NEW.requested_ms IS NOT NULL
    ON CONFLICT(payer, late) DO UPDATE SET n = n + 1;
END;

-- SaveJob writes every column on every save: only a change that can move a member between the
-- sets runs the body.
CREATE TRIGGER deadline_counts_update AFTER UPDATE OF payer, state, deadline, requested_ms
  ON members
  WHEN OLD.payer IS NOT NEW.payer OR OLD.deadline IS NOT NEW.deadline
    OR OLD.requested_ms IS NOT NEW.requested_ms OR (OLD.state <= 5) IS NOT (NEW.state <= 5) BEGIN
  UPDATE deadline_unrequested SET n = n - 1
    WHERE OLD.state <= 5 AND OLD.requested_ms IS NULL AND payer = OLD.payer
      AND deadline = OLD.deadline;
  DELETE FROM deadline_unrequested WHERE payer = OLD.payer AND deadline = OLD.deadline AND n <= 0;
  UPDATE deadline_requested SET n = n - 1
    WHERE OLD.requested_ms IS NOT NULL AND payer = OLD.payer
      AND late = (OLD.requested_ms / 1000 > OLD.deadline);
  INSERT INTO deadline_unrequested(payer, deadline, n)
    SELECT NEW.payer, NEW.deadline, 1 WHERE NEW.state <= 5 AND NEW.requested_ms IS NULL
    ON CONFLICT(payer, deadline) DO UPDATE SET n = n + 1;
  INSERT INTO deadline_requested(payer, late, n)
    SELECT NEW.payer, NEW.requested_ms / 1000 > NEW.deadline, 1 WHERE NEW.requested_ms IS NOT NULL
    ON CONFLICT(payer, late) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER deadline_counts_delete AFTER DELETE ON members BEGIN
  UPDATE deadline_unrequested SET n = n - 1
    WHERE OLD.state <= 5 AND OLD.requested_ms IS NULL AND payer = OLD.payer
      AND deadline = OLD.deadline;
  DELETE FROM deadline_unrequested WHERE payer = OLD.payer AND deadline = OLD.deadline AND n <= 0;
  UPDATE deadline_requested SET n = n - 1
    WHERE OLD.requested_ms IS NOT NULL AND payer = OLD.payer
      AND late = (OLD.requested_ms / 1000 > OLD.deadline);
END;
