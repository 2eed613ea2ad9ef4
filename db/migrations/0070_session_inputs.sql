-- A live session refreshes its inputs (bars, news) before it proposes and stores what it found:
-- the source, how many bars and items it wrote, the newest of each, the errors (sessions/refresh.ts
-- InputRefresh). A session whose inputs are stale, or could not be refreshed, trades nothing: it ends
-- `skipped`, with the reason in `error` and in its report.
ALTER TABLE sessions ADD COLUMN inputs jsonb;
ALTER TABLE sessions DROP CONSTRAINT sessions_status_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_status_check CHECK (status IN ('running', 'completed', 'failed', 'awaiting_approval', 'skipped'));
