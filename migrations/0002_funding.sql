-- Funding settlements: one row per symbol and funding time, so a restart never applies one twice.
CREATE TABLE funding_events (
    symbol TEXT NOT NULL,
    funding_time TEXT NOT NULL,
    rate TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (symbol, funding_time)
);
