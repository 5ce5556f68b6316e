-- p2p-ingest state database, version 5 (member lifecycle): concurrent-coverage refresh,
-- consent period and revocation, and the NDJSON store's tombstone marks.
--
-- member_lifecycle: one row per (payer, member_key) whose source row asked for more than a
-- one-off pull (concurrent coverage, a consent period starting later) or that was revoked. The
-- job is the member's latest row in `members` for (member_key, payer). Days are days since the
-- epoch (core/civil_date.h); times are unix ms.
CREATE TABLE member_lifecycle (
  payer             TEXT    NOT NULL,
  member_key        TEXT    NOT NULL,
  concurrent        INTEGER NOT NULL DEFAULT 0,  -- 1: refreshed every refresh.interval
  consent_start     INTEGER NOT NULL DEFAULT 0,  -- days; no request before this day
  consent_end       INTEGER,                     -- days; no refresh after this day
  coverage_end      INTEGER,                     -- days; no refresh after this day (NULL: open)
  refresh_due_ms    INTEGER,                     -- next refresh of a complete job; NULL: none
  refreshes         INTEGER NOT NULL DEFAULT 0,  -- refresh exports started
  since             TEXT,                        -- _since of the export in flight (a refresh)
  revoked_ms        INTEGER,                     -- consent revoked (source row or cancel)
  revoked_job       INTEGER,                     -- the member's job when it was revoked
  purge_requested   INTEGER NOT NULL DEFAULT 0,  -- 1: the store still has to be purged
  purged_ms         INTEGER,                     -- consent.on_revocation purge done at
  purged_count      INTEGER,                     -- resources the purge removed
  PRIMARY KEY (payer, member_key)
) WITHOUT ROWID;
-- The scheduler's "which complete jobs of this payer are due for a refresh": one range seek.
CREATE INDEX member_lifecycle_due ON member_lifecycle(payer, refresh_due_ms)
  WHERE refresh_due_ms IS NOT NULL;
-- Revoked members whose purge is still to be done (a handful at a time).
CREATE INDEX member_lifecycle_purge ON member_lifecycle(payer) WHERE purge_requested = 1;

-- NDJSON store: committed length of each type's tombstone log <Type>.deleted
-- (store/resource_store.h StoreMark.deleted_end).
CREATE TABLE store_tombstone_marks (
  type        TEXT PRIMARY KEY,
  deleted_end INTEGER NOT NULL
);
