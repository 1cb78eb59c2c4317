-- Telegram quiz polls. A poll answer carries no chat and no message, only the poll id and the voter:
-- each quiz poll sent remembers which question (ask) it asks, to whom, and where to send the next one.
CREATE TABLE telegram_polls (
    poll_id TEXT PRIMARY KEY,
    ask_id INTEGER NOT NULL,
    platform_user_id TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    command TEXT NOT NULL,          -- the /quiz line that asked it: the next question follows the same topic
    sent_at TEXT NOT NULL,
    answered_at TEXT
);
