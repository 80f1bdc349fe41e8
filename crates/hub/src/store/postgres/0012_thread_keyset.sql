-- A thread's comments by (date, id), and the whole tenant thread by thread (the WXR export's
-- keyset walk over `(url_id, date_ms, id)`). Replaces `comments_by_thread`, which lacked `id`,
-- so a page could not end inside a run of equal dates without sorting the rest.
DROP INDEX comments_by_thread;
CREATE INDEX comments_in_thread ON comments (tenant_id, url_id, date_ms, id);
