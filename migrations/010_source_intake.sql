-- p2p-ingest state database, version 10: member files taken in streaming, in committed batches.
--
-- source_intake: a file whose intake has begun and is not yet recorded in source_files. Its
-- identity (size, mtime) and the last line whose row is committed: a restart after a crash
-- continues after that line (a file of the same name but another identity starts over).
CREATE TABLE source_intake (
  name          TEXT    PRIMARY KEY,
  size          INTEGER NOT NULL,
  mtime_ns      INTEGER NOT NULL,
  done_line     INTEGER NOT NULL,  -- every row up to this line is committed
  inserted      INTEGER NOT NULL,
  already_known INTEGER NOT NULL
) WITHOUT ROWID;
-- The duplicate check of a file being taken in: the first line of each row key (member_key,
-- prior_payer, revocation mark). Deleted once the file has been moved to processed/.
CREATE TABLE source_keys (
  name TEXT    NOT NULL,
  key  TEXT    NOT NULL,
  line INTEGER NOT NULL,
  PRIMARY KEY (name, key)
) WITHOUT ROWID;
