-- A ledger row carries the balance after it; the wallet follows from it, so a wallet can only change
-- together with its ledger row (and one statement does both).
CREATE TRIGGER ledger_sets_wallet AFTER INSERT ON ledger
BEGIN
    UPDATE accounts SET wallet_balance = NEW.balance_after WHERE id = NEW.account_id;
END;
