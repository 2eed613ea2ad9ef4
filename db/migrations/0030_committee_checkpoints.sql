-- Issue 5 (committee graph): a LangGraph checkpointer on our own Db (used on PGlite; PostgreSQL uses
-- @langchain/langgraph-checkpoint-postgres, whose setup() creates its own tables), and the validated
-- output of each agent stored with its transcript.

-- One row per checkpoint (serialised by LangGraph's serde; type = serde type tag).
CREATE TABLE graph_checkpoints (
  thread_id            text NOT NULL,
  checkpoint_ns        text NOT NULL DEFAULT '',
  checkpoint_id        text NOT NULL,
  parent_checkpoint_id text,
  checkpoint_type      text NOT NULL,
  checkpoint           bytea NOT NULL,
  metadata_type        text NOT NULL,
  metadata             bytea NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
);

-- Pending writes of the tasks of a checkpoint's next step: what lets a resumed run skip finished nodes.
CREATE TABLE graph_checkpoint_writes (
  thread_id     text NOT NULL,
  checkpoint_ns text NOT NULL DEFAULT '',
  checkpoint_id text NOT NULL,
  task_id       text NOT NULL,
  idx           integer NOT NULL,
  channel       text NOT NULL,
  value_type    text NOT NULL,
  value         bytea NOT NULL,
  task_path     text NOT NULL DEFAULT '',
  PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
);

-- The validated AgentOpinion (or Verdict for the committee) of a node, on the node's last message.
ALTER TABLE agent_messages ADD COLUMN output jsonb;
CREATE INDEX committee_runs_thread_idx ON committee_runs (thread_id);
