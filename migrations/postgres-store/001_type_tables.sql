-- The PostgreSQL store (store.kind: postgres): one table per resource type in store.schema.
-- A type's table is created on first use by calling this function, so that its DDL lives here,
-- with the store's other migrations, and the daemon needs no DDL of its own. Applied with
-- search_path set to store.schema (the function lands there); its argument is that schema.
--
--   payer        the prior payer's id in the configuration (payers[].id)
--   id           the resource's id at that payer
--   member_key   the member it was received for (never a member's name or identifier)
--   tx_time      the transactionTime of the export it came from: an older export's copy never
--                replaces a newer one
--   job_id       the job (state DB) that received it
--   received_at  when it was stored
--   resource     the resource, as JSONB
CREATE FUNCTION p2p_create_type_table(schema_name text, type_name text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  -- Daemons writing a new type at once take turns (until their transaction ends): of two
  -- concurrent CREATE TABLE IF NOT EXISTS, the second fails on pg_type's unique index.
  PERFORM pg_advisory_xact_lock(hashtext('p2p-store-table:' || schema_name || '.' || type_name));
  EXECUTE format('CREATE TABLE IF NOT EXISTS %I.%I ('
                 'payer text NOT NULL, '
                 'id text NOT NULL, '
                 'member_key text NOT NULL, '
                 'tx_time timestamptz, '
                 'job_id bigint NOT NULL, '
                 'received_at timestamptz NOT NULL DEFAULT now(), '
                 'resource jsonb NOT NULL, '
                 'PRIMARY KEY (payer, id))', schema_name, type_name);
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I (member_key)',
                 type_name || '_member_key', schema_name, type_name);
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I (job_id)',
                 type_name || '_job_id', schema_name, type_name);
END
$fn$;
