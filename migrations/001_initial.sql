-- p2p-ingest state database, version 1.
-- members: one row per member job. Holds PHI (row_json): the file is mode 0600 and nothing here
-- is ever logged except member_key and payer.
CREATE TABLE members (
  id                INTEGER PRIMARY KEY,        -- the job id
  member_key        TEXT    NOT NULL,           -- new payer's opaque id
  payer             TEXT    NOT NULL,           -- payers[].id
  state             INTEGER NOT NULL,           -- core/job_state.h JobState
  row_json          TEXT    NOT NULL,           -- the source row (PHI), for $member-match
  deadline          INTEGER NOT NULL,           -- unix s: CMS-0057-F request deadline
  consent_end       INTEGER NOT NULL,           -- days since epoch
  source_file       TEXT,
  source_line       INTEGER,
  created_ms        INTEGER NOT NULL,
  updated_ms        INTEGER NOT NULL,
  requested_ms      INTEGER,                    -- first $member-match sent (SLA)
  completed_ms      INTEGER,
  next_ms           INTEGER NOT NULL DEFAULT 0, -- not runnable before this time (backoff, poll)
  attempts          INTEGER NOT NULL DEFAULT 0, -- failed attempts in the current step
  group_id          TEXT,
  member_identifier TEXT,
  poll_url          TEXT,
  export_started_ms INTEGER,
  polls             INTEGER NOT NULL DEFAULT 0,
  rekicks           INTEGER NOT NULL DEFAULT 0,
  transaction_time  TEXT,
  requires_token    INTEGER NOT NULL DEFAULT 1,
  error_class       TEXT,                       -- classified reason (no PHI)
  error_detail      TEXT,                       -- context: step, status, URL path; may hold server text
  http_status       INTEGER
);
-- At most one active or complete job per (member_key, payer); terminal failures may be retried
-- by dropping the member again.
CREATE UNIQUE INDEX members_active ON members(member_key, payer) WHERE state <= 6;
-- The scheduler: runnable jobs of a payer by earliest deadline.
CREATE INDEX members_runnable ON members(payer, deadline) WHERE state <= 5;
CREATE INDEX members_state ON members(state);

-- Output / error / deleted files of a job's manifest.
CREATE TABLE files (
  job_id     INTEGER NOT NULL REFERENCES members(id),
  idx        INTEGER NOT NULL,
  kind       INTEGER NOT NULL,      -- 0 output, 1 error, 2 deleted
  type       TEXT    NOT NULL,
  url        TEXT    NOT NULL,
  state      INTEGER NOT NULL DEFAULT 0,  -- 0 pending, 1 done, 2 failed
  lines      INTEGER NOT NULL DEFAULT 0,
  stored     INTEGER NOT NULL DEFAULT 0,
  bad_lines  INTEGER NOT NULL DEFAULT 0,
  bytes      INTEGER NOT NULL DEFAULT 0,
  attempts   INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, idx)
);

-- Lines that failed the check: where and why, never the content.
CREATE TABLE bad_lines (
  job_id   INTEGER NOT NULL,
  file_idx INTEGER NOT NULL,
  line_no  INTEGER NOT NULL,
  reason   TEXT    NOT NULL,
  PRIMARY KEY (job_id, file_idx, line_no)
);

-- NDJSON store: committed length of each type's files (see store/resource_store.h).
CREATE TABLE store_marks (
  type      TEXT PRIMARY KEY,
  ndjson_end INTEGER NOT NULL,
  index_end  INTEGER NOT NULL
);

-- Every state transition, for audit and the status endpoint.
CREATE TABLE events (
  id         INTEGER PRIMARY KEY,
  job_id     INTEGER NOT NULL,
  at_ms      INTEGER NOT NULL,
  from_state INTEGER NOT NULL,
  to_state   INTEGER NOT NULL,
  error_class TEXT
);
CREATE INDEX events_job ON events(job_id);
CREATE INDEX events_error ON events(error_class, at_ms) WHERE error_class IS NOT NULL;

-- Source files taken in (for idempotent intake after a crash between commit and move).
CREATE TABLE source_files (
  name      TEXT PRIMARY KEY,
  rows_ok   INTEGER NOT NULL,
  rows_bad  INTEGER NOT NULL,
  taken_ms  INTEGER NOT NULL
);
