-- Resting orders: limit (maker fee, fills when the mark crosses), stop-loss and take-profit (reduce-only,
-- triggered by the mark) and trailing stops (callback from the best mark since set).
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    symbol TEXT NOT NULL,
    side INTEGER NOT NULL CHECK (side IN (-1, 1)),
    type TEXT NOT NULL CHECK (type IN ('limit', 'stop_loss', 'take_profit', 'trailing_stop')),
    qty TEXT,                       -- NULL for a reduce-only order that closes the whole position
    price TEXT,                     -- limit price or trigger price
    leverage INTEGER NOT NULL,
    margin_mode TEXT NOT NULL CHECK (margin_mode IN ('isolated', 'cross')),
    reduce_only INTEGER NOT NULL DEFAULT 0,
    callback_rate TEXT,             -- trailing stops: fraction, e.g. 0.02
    best_mark TEXT,                 -- trailing stops: best mark since the order was set
    reserved_margin TEXT NOT NULL DEFAULT '0',
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'filled', 'cancelled')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    fill_price TEXT
);
CREATE INDEX orders_open ON orders (status, symbol);
CREATE INDEX orders_account ON orders (account_id, status);
