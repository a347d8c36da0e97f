-- Visitors rate answers (thumbs up or down); the rating is kept with the message.

ALTER TABLE messages ADD COLUMN feedback TEXT CHECK (feedback IN ('up', 'down'));
ALTER TABLE messages ADD COLUMN feedback_at INTEGER;
