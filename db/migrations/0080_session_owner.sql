-- Who runs a session: `host:pid:token` of the process (sessions/run.ts sessionOwner). A session left
-- `running` by a process that is gone (killed, crashed) can then be told from one still at work, and
-- its slot run again (the takeover rule in sessions/run.ts createSession). Rows from before this
-- column have no owner and are never taken over.
ALTER TABLE sessions ADD COLUMN owner text;
