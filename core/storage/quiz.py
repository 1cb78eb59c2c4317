"""Quiz asks and answers, scores and streaks, spaced-repetition state; and the ledger history charts read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from core.storage.db import Tx
from core.storage.rows import fetch_all, fetch_one, stamp


@dataclass(frozen=True)
class ScoreRow:
    score: int = 0
    streak: int = 0
    best_streak: int = 0
    answered: int = 0
    correct: int = 0
    asked: int = 0


@dataclass(frozen=True)
class TopicRow:
    topic: str
    box: int = 0
    due_seq: int = 0
    answered: int = 0
    correct: int = 0


@dataclass(frozen=True)
class NewAsk:
    """What to store for a question put to a user or to a group round."""

    user_id: int | None
    platform: str
    chat_id: str
    is_round: bool
    question_id: str
    topic: str
    difficulty: int
    text: str
    options: tuple[str, ...]
    correct: int
    explanation: str


@dataclass(frozen=True)
class AskRow(NewAsk):
    """A stored question (what was asked, with its row id)."""

    id: int


def _ask(row: aiosqlite.Row) -> AskRow:
    return AskRow(
        id=int(row["id"]),
        user_id=row["user_id"],
        platform=row["platform"],
        chat_id=row["chat_id"],
        is_round=bool(row["is_round"]),
        question_id=row["question_id"],
        topic=row["topic"],
        difficulty=int(row["difficulty"]),
        text=row["text"],
        options=tuple(json.loads(row["options"])),
        correct=int(row["correct"]),
        explanation=row["explanation"],
    )


async def insert_ask(tx: Tx, ask: NewAsk, now: datetime) -> int:
    cursor = await tx.execute(
        "INSERT INTO quiz_asks (user_id, platform, chat_id, is_round, question_id, topic, difficulty, text, "
        "options, correct, explanation, asked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            ask.user_id,
            ask.platform,
            ask.chat_id,
            int(ask.is_round),
            ask.question_id,
            ask.topic,
            ask.difficulty,
            ask.text,
            json.dumps(list(ask.options), ensure_ascii=False),
            ask.correct,
            ask.explanation,
            stamp(now),
        ),
    )
    assert cursor.lastrowid is not None
    return int(cursor.lastrowid)


async def ask_by_id(tx: Tx, ask_id: int) -> AskRow | None:
    row = await fetch_one(tx, "SELECT * FROM quiz_asks WHERE id = ?", (ask_id,))
    return _ask(row) if row else None


async def has_answered(tx: Tx, ask_id: int, user_id: int) -> bool:
    return (
        await fetch_one(tx, "SELECT 1 FROM quiz_answers WHERE ask_id = ? AND user_id = ?", (ask_id, user_id))
        is not None
    )


async def record_answer(
    tx: Tx, ask_id: int, user_id: int, chosen: int, correct: bool, points: int, now: datetime
) -> None:
    await tx.execute(
        "INSERT INTO quiz_answers (ask_id, user_id, chosen, correct, points, answered_at) VALUES (?, ?, ?, ?, ?, ?)",
        (ask_id, user_id, chosen, int(correct), points, stamp(now)),
    )


async def score_of(tx: Tx, user_id: int) -> ScoreRow:
    row = await fetch_one(
        tx, "SELECT score, streak, best_streak, answered, correct, asked FROM quiz_scores WHERE user_id = ?", (user_id,)
    )
    return ScoreRow(*(int(v) for v in row)) if row else ScoreRow()


async def save_score(tx: Tx, user_id: int, s: ScoreRow) -> None:
    await tx.execute(
        "INSERT INTO quiz_scores (user_id, score, streak, best_streak, answered, correct, asked) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET score = excluded.score, "
        "streak = excluded.streak, best_streak = excluded.best_streak, answered = excluded.answered, "
        "correct = excluded.correct, asked = excluded.asked",
        (user_id, s.score, s.streak, s.best_streak, s.answered, s.correct, s.asked),
    )


async def topics_of(tx: Tx, user_id: int) -> dict[str, TopicRow]:
    rows = await fetch_all(
        tx, "SELECT topic, box, due_seq, answered, correct FROM quiz_topics WHERE user_id = ?", (user_id,)
    )
    return {row[0]: TopicRow(row[0], int(row[1]), int(row[2]), int(row[3]), int(row[4])) for row in rows}


async def save_topic(tx: Tx, user_id: int, t: TopicRow) -> None:
    await tx.execute(
        "INSERT INTO quiz_topics (user_id, topic, box, due_seq, answered, correct) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (user_id, topic) DO UPDATE SET box = excluded.box, due_seq = excluded.due_seq, "
        "answered = excluded.answered, correct = excluded.correct",
        (user_id, t.topic, t.box, t.due_seq, t.answered, t.correct),
    )


async def times_asked(tx: Tx, user_id: int, topic: str) -> dict[str, int]:
    """How often each question of a topic was put to this user (personally or in a round they answered)."""
    return {
        row[0]: int(row[1])
        for row in await fetch_all(
            tx,
            "SELECT question_id, COUNT(*) FROM quiz_asks WHERE topic = ? AND (user_id = ? OR id IN "
            "(SELECT ask_id FROM quiz_answers WHERE user_id = ?)) GROUP BY question_id",
            (topic, user_id, user_id),
        )
    }


async def round_questions(tx: Tx, platform: str, chat_id: str) -> dict[str, int]:
    return {
        row[0]: int(row[1])
        for row in await fetch_all(
            tx,
            "SELECT question_id, COUNT(*) FROM quiz_asks WHERE platform = ? AND chat_id = ? AND is_round = 1 "
            "GROUP BY question_id",
            (platform, chat_id),
        )
    }


async def latest_open_ask(tx: Tx, user_id: int, platform: str, chat_id: str) -> int | None:
    """The newest question this user may still answer: a round question of this chat, else their own."""
    row = await fetch_one(
        tx,
        "SELECT id FROM quiz_asks q WHERE ((q.is_round = 1 AND q.platform = ? AND q.chat_id = ?) OR q.user_id = ?) "
        "AND NOT EXISTS (SELECT 1 FROM quiz_answers a WHERE a.ask_id = q.id AND a.user_id = ?) "
        "ORDER BY q.is_round DESC, q.id DESC LIMIT 1",
        (platform, chat_id, user_id, user_id),
    )
    return int(row[0]) if row else None


@dataclass(frozen=True)
class BoardRow:
    name: str
    points: int
    correct: int
    answered: int


async def group_board(tx: Tx, platform: str, chat_id: str, limit: int) -> list[BoardRow]:
    """Members ranked by the points of their answers to this chat's round questions."""
    rows = await fetch_all(
        tx,
        "SELECT u.display_name, SUM(a.points), SUM(a.correct), COUNT(*), MIN(a.answered_at) FROM quiz_answers a "
        "JOIN quiz_asks q ON q.id = a.ask_id JOIN users u ON u.id = a.user_id "
        "WHERE q.is_round = 1 AND q.platform = ? AND q.chat_id = ? GROUP BY a.user_id "
        "ORDER BY SUM(a.points) DESC, SUM(a.correct) DESC, MIN(a.answered_at) LIMIT ?",
        (platform, chat_id, limit),
    )
    return [BoardRow(row[0], int(row[1]), int(row[2]), int(row[3])) for row in rows]


async def platform_board(tx: Tx, platform: str, limit: int) -> list[BoardRow]:
    rows = await fetch_all(
        tx,
        "SELECT u.display_name, s.score, s.correct, s.answered FROM quiz_scores s JOIN users u ON u.id = s.user_id "
        "WHERE u.platform = ? AND s.answered > 0 ORDER BY s.score DESC, s.correct DESC, u.id LIMIT ?",
        (platform, limit),
    )
    return [BoardRow(row[0], int(row[1]), int(row[2]), int(row[3])) for row in rows]


# Belongs with the ledger in core.storage.accounts (owned elsewhere); kept here until it moves there.
