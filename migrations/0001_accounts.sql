-- Users (keyed by platform and platform user id), paper accounts, positions, trades and the ledger.
-- Money is TEXT holding an exact decimal.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    platform_user_id TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    push_chat_id TEXT NOT NULL,
    pushes_enabled INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    UNIQUE (platform, platform_user_id)
);

CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL UNIQUE REFERENCES users (id),
    wallet_balance TEXT NOT NULL,
    starting_balance TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE symbol_settings (
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    symbol TEXT NOT NULL,
    margin_mode TEXT NOT NULL CHECK (margin_mode IN ('isolated', 'cross')),
    leverage INTEGER NOT NULL,
    PRIMARY KEY (account_id, symbol)
);

CREATE TABLE positions (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    symbol TEXT NOT NULL,
    side INTEGER NOT NULL CHECK (side IN (-1, 1)),
    qty TEXT NOT NULL,
    entry_price TEXT NOT NULL,
    leverage INTEGER NOT NULL,
    margin_mode TEXT NOT NULL CHECK (margin_mode IN ('isolated', 'cross')),
    margin TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    UNIQUE (account_id, symbol)
);
CREATE INDEX positions_symbol ON positions (symbol);

CREATE TABLE trades (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    symbol TEXT NOT NULL,
    side INTEGER NOT NULL,
    qty TEXT NOT NULL,
    price TEXT NOT NULL,
    fee TEXT NOT NULL,
    realized_pnl TEXT NOT NULL,
    kind TEXT NOT NULL,
    margin_mode TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX trades_account ON trades (account_id, id);

-- Every change of a wallet balance is one row here, in the same transaction as the change.
CREATE TABLE ledger (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    kind TEXT NOT NULL CHECK (kind IN ('reset', 'fee', 'realized_pnl', 'funding', 'liquidation', 'insurance')),
    amount TEXT NOT NULL,
    balance_after TEXT NOT NULL,
    symbol TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX ledger_account ON ledger (account_id, id);

-- The insurance fund: what liquidations leave to it, and what it pays to keep wallets at zero.
CREATE TABLE insurance_fund (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    amount TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Last known marks, so a manual market survives a restart.
CREATE TABLE marks (
    symbol TEXT PRIMARY KEY,
    price TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Notifications, written in the same transaction as the event that caused them.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    priority INTEGER NOT NULL,
    text TEXT NOT NULL,
    data TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT
);
CREATE INDEX outbox_pending ON outbox (delivered_at, next_attempt_at);
