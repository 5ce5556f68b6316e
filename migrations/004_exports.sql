-- p2p-ingest state database, version 4 (exports): what a job's export manifest says
-- beyond its file list, in side tables keyed by job id (the members table is untouched).

-- The manifest of the job's current export: its Expires (unix ms, 0 = none), the next manifest
-- page still to read ('' = every page read) and how many pages were read. Reset by a re-kick.
CREATE TABLE export_pages (
  job_id     INTEGER PRIMARY KEY,
  expires_ms INTEGER NOT NULL DEFAULT 0,
  next_url   TEXT    NOT NULL DEFAULT '',
  pages      INTEGER NOT NULL DEFAULT 0
);

-- OperationOutcome issues read from the export's error[] files (not stored as resources).
-- diagnostics is the server's text and may hold PHI: it stays here, never in logs, /status,
-- metrics or operator output (those show counts by severity and code).
CREATE TABLE export_issues (
  job_id      INTEGER NOT NULL,
  file_idx    INTEGER NOT NULL,
  line_no     INTEGER NOT NULL,
  issue_no    INTEGER NOT NULL,
  severity    TEXT    NOT NULL,
  code        TEXT    NOT NULL,
  diagnostics TEXT    NOT NULL,
  PRIMARY KEY (job_id, file_idx, line_no, issue_no)
) WITHOUT ROWID;
