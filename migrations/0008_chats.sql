-- Group chats: who trades there (group leaderboards) and settings only the chat's admins may change.
CREATE TABLE chat_members (
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id),
    joined_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id, user_id)
);

CREATE TABLE chat_settings (
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id, key)
);
