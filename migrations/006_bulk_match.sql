-- p2p-ingest state database, version 6 (bulk match): Group exports whose resources
-- belong to several members, and the batches of Da Vinci PDex $bulk-member-match.
--
-- A Group export is an ordinary row of `members` (a pseudo-job the JobRunner drives through
-- matched -> exporting -> polling -> downloading -> complete) whose member_key is not a member's
-- key but "bulk-match:<n>" (a batch) or "group:<GROUP_ID>" (an operator's export of a known
-- Group); ':' never occurs in a source member_key, so the two cannot collide. Its output lines
-- are stored under the member_key of the Patient they belong to (patient_keys).
CREATE TABLE group_exports (
  job_id INTEGER PRIMARY KEY,  -- members.id of the pseudo-job
  payer  TEXT    NOT NULL,
  kind   INTEGER NOT NULL,     -- 1 $bulk-member-match batch, 2 operator export of a known Group
  size   INTEGER NOT NULL DEFAULT 0  -- batch: members joined so far
);
CREATE INDEX group_exports_payer ON group_exports(payer, kind);

-- The members of each batch. A member is in at most one batch at a time (an operator's retry
-- makes it join a new one: the row is replaced).
CREATE TABLE bulk_batch_members (
  member_job_id INTEGER PRIMARY KEY,  -- members.id of the member's own job
  batch_job_id  INTEGER NOT NULL,     -- group_exports.job_id
  outcome       INTEGER NOT NULL DEFAULT 0,  -- 0 waiting, 1 matched, 2 no_match, 3 consent_refused,
                                             -- 4 missing from the answer
  patient_id    TEXT                 -- matched: the prior payer's Patient id
);
CREATE INDEX bulk_batch_members_batch ON bulk_batch_members(batch_job_id);

-- Prior-payer Patient id -> member_key, per payer: from $bulk-member-match answers and from the
-- Patient files of single-member exports. Holds no PHI (both ids are opaque).
CREATE TABLE patient_keys (
  payer      TEXT NOT NULL,
  patient_id TEXT NOT NULL,
  member_key TEXT NOT NULL,
  PRIMARY KEY (payer, patient_id)
) WITHOUT ROWID;
