-- Quizzes: every question asked is a row (answers after a restart still score), one answer per user and
-- question, scores and streaks per user, spaced-repetition state per user and lesson topic.
CREATE TABLE quiz_asks (
    id INTEGER PRIMARY KEY,
    user_id INTEGER REFERENCES users (id),  -- NULL for a group round question (anyone in the chat answers)
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    is_round INTEGER NOT NULL DEFAULT 0,
    question_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    difficulty INTEGER NOT NULL,
    text TEXT NOT NULL,
    options TEXT NOT NULL,  -- JSON array of the four options
    correct INTEGER NOT NULL CHECK (correct BETWEEN 0 AND 3),
    explanation TEXT NOT NULL,
    asked_at TEXT NOT NULL
);
CREATE INDEX quiz_asks_user ON quiz_asks (user_id, id);
CREATE INDEX quiz_asks_rounds ON quiz_asks (platform, chat_id, is_round, id);

CREATE TABLE quiz_answers (
    ask_id INTEGER NOT NULL REFERENCES quiz_asks (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    chosen INTEGER NOT NULL,
    correct INTEGER NOT NULL,
    points INTEGER NOT NULL,
    answered_at TEXT NOT NULL,
    PRIMARY KEY (ask_id, user_id)
);

CREATE TABLE quiz_scores (
    user_id INTEGER PRIMARY KEY REFERENCES users (id),
    score INTEGER NOT NULL DEFAULT 0,
    streak INTEGER NOT NULL DEFAULT 0,
    best_streak INTEGER NOT NULL DEFAULT 0,
    answered INTEGER NOT NULL DEFAULT 0,
    correct INTEGER NOT NULL DEFAULT 0,
    asked INTEGER NOT NULL DEFAULT 0  -- questions asked so far: the clock of the spaced repetition
);

-- Leitner boxes per topic: a miss sends the topic back to box 0, due again after one other question.
CREATE TABLE quiz_topics (
    user_id INTEGER NOT NULL REFERENCES users (id),
    topic TEXT NOT NULL,
    box INTEGER NOT NULL DEFAULT 0,
    due_seq INTEGER NOT NULL DEFAULT 0,
    answered INTEGER NOT NULL DEFAULT 0,
    correct INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, topic)
);
