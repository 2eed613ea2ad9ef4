-- Issue 5 (committee overhead): a task's regular pending writes in one row instead of one row per
-- channel. LangGraph hands a finished task's writes to the checkpointer in one call (a committee
-- node writes 4 to 7 channels); storing them as one row cuts the rows a committee run inserts on
-- PGlite from about 70 to about 50. DbCheckpointSaver stores a call's writes here when every value
-- is plain JSON, and in graph_checkpoint_writes (one row per write, as before) otherwise; special
-- writes (errors, interrupts: negative idx) always go there. Reads merge both tables.
CREATE TABLE graph_checkpoint_task_writes (
  thread_id     text NOT NULL,
  checkpoint_ns text NOT NULL DEFAULT '',
  checkpoint_id text NOT NULL,
  task_id       text NOT NULL,
  task_path     text NOT NULL DEFAULT '',
  -- UTF-8 JSON of [[idx, channel, value], ...] in the order the task wrote them.
  writes        bytea NOT NULL,
  PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id)
);
