-- Per-turn summary of an answer (observability, #17): timings (time to first token, model
-- time, each tool's time, total), tokens, cost and the models tried, as JSON text. Written
-- with the answer in the same statement; NULL for user messages and answers stored before.
ALTER TABLE messages ADD COLUMN timing TEXT;
