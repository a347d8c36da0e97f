-- What the inbox shows of a conversation besides its messages: the page and channel it was
-- started from (as the client reported them) and whether it is a dashboard preview chat.

ALTER TABLE conversations ADD COLUMN page_url TEXT;
ALTER TABLE conversations ADD COLUMN channel TEXT;
ALTER TABLE conversations ADD COLUMN preview INTEGER NOT NULL DEFAULT 0;
