-- Orders, continued: stops attached to a limit entry (placed when it fills) and why an order ended.
ALTER TABLE orders ADD COLUMN attached_sl TEXT;   -- limit entries: stop-loss to place on the filled position
ALTER TABLE orders ADD COLUMN attached_tp TEXT;   -- limit entries: take-profit to place on the filled position
ALTER TABLE orders ADD COLUMN end_reason TEXT;    -- user, position_closed, liquidation, reset, replaced, ...
