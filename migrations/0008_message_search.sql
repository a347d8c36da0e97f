-- Message search through an index: an FTS5 table of each message's text (its "text" parts,
-- joined), with the trigram tokenizer so `LIKE '%words%'` (substring, ASCII case-insensitive,
-- as the inbox search always was) is answered from the index instead of reading every message
-- of the tenant. Triggers keep it in step with `messages`; existing messages are indexed here.

CREATE VIRTUAL TABLE message_search USING fts5(
  text,
  conversation_id UNINDEXED,
  tenant_id UNINDEXED,
  tokenize = 'trigram'
);

INSERT INTO message_search (rowid, text, conversation_id, tenant_id)
  SELECT m.rowid,
    COALESCE((SELECT group_concat(json_extract(p.value, '$.text'), '') FROM json_each(m.parts) p
      WHERE json_extract(p.value, '$.type') = 'text'), ''),
    m.conversation_id, m.tenant_id
  FROM messages m;

-- Each trigger body ends with "; END;" on one line: the migration runners split statements at
-- a semicolon that ends a line.
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
  INSERT INTO message_search (rowid, text, conversation_id, tenant_id) VALUES (new.rowid,
    COALESCE((SELECT group_concat(json_extract(p.value, '$.text'), '') FROM json_each(new.parts) p
      WHERE json_extract(p.value, '$.type') = 'text'), ''),
    new.conversation_id, new.tenant_id); END;

CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
  DELETE FROM message_search WHERE rowid = old.rowid; END;
