-- A comment event's payload is the comment as of the event. When the event was written with
-- the comment (an upload), the entry stores no copy: `doc_ref` names the comment, whose
-- `event_pos` names the entry, and readers take the comment's `doc`. Before that document
-- changes or goes, these triggers copy it into the entry, so every entry keeps its version.
-- Run after schema.sql and the column upgrades (the columns must exist).
CREATE TRIGGER IF NOT EXISTS comments_event_payload_on_update
BEFORE UPDATE OF doc, event_pos ON comments
WHEN old.event_pos IS NOT NULL AND (new.event_pos IS NOT old.event_pos OR new.doc IS NOT old.doc)
BEGIN
    UPDATE timeline SET payload = old.doc
     WHERE tenant_id = old.tenant_id AND created_at = old.event_pos
       AND doc_ref = old.id AND payload IS NULL;
END;
CREATE TRIGGER IF NOT EXISTS comments_event_payload_on_delete
BEFORE DELETE ON comments
WHEN old.event_pos IS NOT NULL
BEGIN
    UPDATE timeline SET payload = old.doc
     WHERE tenant_id = old.tenant_id AND created_at = old.event_pos
       AND doc_ref = old.id AND payload IS NULL;
END;
