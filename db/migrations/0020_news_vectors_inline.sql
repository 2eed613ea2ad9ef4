-- Keep news vectors inline in the heap row instead of TOASTed out of line: a filtered HNSW search
-- (published_at <= as_of) reads many candidate rows, and with out-of-line vectors each read costs an
-- extra fetch. Measured at 100k items: the p95 of a restrictive as-of query fell from ~90 ms to ~15 ms.
-- PLAIN fits vectors up to ~1,900 dimensions in an 8 kB page (db/embedding-store.ts re-applies it
-- after a resize). Applies to rows written from now on; VACUUM FULL news_items rewrites older ones.
ALTER TABLE news_items ALTER COLUMN embedding SET STORAGE PLAIN;
