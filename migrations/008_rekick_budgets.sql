-- p2p-ingest state database, version 8: re-kicks counted by cause, each against its own budget
-- (lib/pipeline/job_runner.cpp Rekick): export.max_expired_rekicks for an export whose files or
-- status are gone or expired (error classes file_gone, export_gone, expired), export.max_rekicks
-- for an export the payer reported failed (export_failed).
--
-- members.rekicks stays the total; expired_rekicks is the part caused by gone or expired files,
-- so the failed-export re-kicks are rekicks - expired_rekicks.
ALTER TABLE members ADD COLUMN expired_rekicks INTEGER NOT NULL DEFAULT 0;

-- Jobs re-kicked before this version counted both causes together; the cause of their last
-- re-kick (still their error_class while the new export runs) stands for all of them.
UPDATE members SET expired_rekicks = rekicks
  WHERE rekicks > 0 AND error_class IN ('file_gone', 'export_gone', 'expired');
