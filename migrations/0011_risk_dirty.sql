-- Accounts whose wallet or positions changed since the in-memory risk index last looked. Triggers fill it
-- for every writer (trades, orders, funding, liquidations, resets), so no use case can forget to.
-- (No OR IGNORE: an upsert's conflict policy would override it inside the trigger.)
CREATE TABLE risk_dirty (account_id INTEGER PRIMARY KEY);

CREATE TRIGGER risk_dirty_position_insert AFTER INSERT ON positions
BEGIN
    INSERT INTO risk_dirty (account_id) SELECT NEW.account_id
    WHERE NOT EXISTS (SELECT 1 FROM risk_dirty WHERE account_id = NEW.account_id);
END;

CREATE TRIGGER risk_dirty_position_update AFTER UPDATE ON positions
BEGIN
    INSERT INTO risk_dirty (account_id) SELECT NEW.account_id
    WHERE NOT EXISTS (SELECT 1 FROM risk_dirty WHERE account_id = NEW.account_id);
END;

CREATE TRIGGER risk_dirty_position_delete AFTER DELETE ON positions
BEGIN
    INSERT INTO risk_dirty (account_id) SELECT OLD.account_id
    WHERE NOT EXISTS (SELECT 1 FROM risk_dirty WHERE account_id = OLD.account_id);
END;

CREATE TRIGGER risk_dirty_wallet AFTER UPDATE OF wallet_balance ON accounts
BEGIN
    INSERT INTO risk_dirty (account_id) SELECT NEW.id
    WHERE NOT EXISTS (SELECT 1 FROM risk_dirty WHERE account_id = NEW.id);
END;
