-- Buttons: short tokens in callback data, backed by rows, so they survive a restart and know their owner.
CREATE TABLE buttons (
    token TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    command TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Platform updates already applied (Telegram update ids, Discord interaction ids): each is applied once.
CREATE TABLE processed_updates (
    platform TEXT NOT NULL,
    update_id TEXT NOT NULL,
    processed_at TEXT NOT NULL,
    PRIMARY KEY (platform, update_id)
);
