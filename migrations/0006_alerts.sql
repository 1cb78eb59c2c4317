-- Alerts: per-user push settings, margin-alert hysteresis state, price alerts; why an outbox row was not sent.

-- One row per user who changed something; a missing row means the defaults (core.domain.alerts).
CREATE TABLE alert_settings (
    user_id INTEGER PRIMARY KEY REFERENCES users (id),
    warning TEXT NOT NULL,          -- margin ratio (fraction) that sends margin_warning
    danger TEXT NOT NULL,           -- margin ratio (fraction) that sends margin_danger
    quiet_start INTEGER,            -- UTC hour quiet hours begin (NULL: none)
    quiet_end INTEGER               -- UTC hour they end (exclusive)
);

-- Push kinds switched away from their default (funding and digest are off unless a row says on).
CREATE TABLE push_kinds (
    user_id INTEGER NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    PRIMARY KEY (user_id, kind)
);
CREATE INDEX push_kinds_kind ON push_kinds (kind, enabled);

-- Which margin alert levels have fired for a subject ('cross' or an isolated position's symbol), so a level
-- is sent once and re-armed only when the ratio falls 10 points below it. `episode` names the position
-- ('id@opened_at' of the isolated position, or of the first cross position): a new position starts with
-- fresh levels. `fired` counts the pushes ever sent for the subject (their idempotency keys); a row is kept
-- (at most one per symbol and 'cross') so the count never restarts.
CREATE TABLE margin_alert_state (
    user_id INTEGER NOT NULL REFERENCES users (id),
    subject TEXT NOT NULL,
    episode TEXT NOT NULL,
    warned INTEGER NOT NULL DEFAULT 0,
    endangered INTEGER NOT NULL DEFAULT 0,
    fired INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user_id, subject)
);
CREATE INDEX margin_alert_state_armed ON margin_alert_state (warned, endangered);

-- `/alert BTC < 60000`: fires once when the mark reaches the price, then is removed.
CREATE TABLE price_alerts (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    symbol TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('above', 'below')),
    price TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX price_alerts_symbol ON price_alerts (symbol);
CREATE INDEX price_alerts_user ON price_alerts (user_id);

-- A settled row (delivered_at set) that was NOT sent says why: 'off' (kind switched off), 'failed' (gave up).
ALTER TABLE outbox ADD COLUMN skipped TEXT;
