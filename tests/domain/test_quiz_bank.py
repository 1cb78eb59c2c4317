"""Quiz bank: enough well-formed questions on every lesson topic, within Telegram's poll limits."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from core.domain.lessons import TOPICS
from core.domain.quiz_bank import QUESTIONS, Question, question, questions_for

MIN_QUESTIONS = 66
MIN_PER_TOPIC = 3


def test_bank_holds_enough_questions_with_unique_stable_ids() -> None:
    assert len(QUESTIONS) >= MIN_QUESTIONS
    ids = [q.id for q in QUESTIONS]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]{3}-\d{2}", qid) for qid in ids)


@pytest.mark.parametrize("topic", TOPICS)
def test_every_lesson_topic_has_at_least_three_questions(topic: str) -> None:
    found = questions_for(topic)
    assert len(found) >= MIN_PER_TOPIC
    assert all(q.topic == topic for q in found)


def test_every_question_belongs_to_a_lesson_topic_and_one_id_prefix_per_topic() -> None:
    assert {q.topic for q in QUESTIONS} <= set(TOPICS)
    prefixes = {q.topic: {q2.id.split("-")[0] for q2 in questions_for(q.topic)} for q in QUESTIONS}
    assert all(len(p) == 1 for p in prefixes.values())
    assert len({next(iter(p)) for p in prefixes.values()}) == len(prefixes)


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_question_is_well_formed_for_a_telegram_quiz_poll(q: Question) -> None:
    assert q.difficulty in (1, 2, 3)
    assert 0 < len(q.text) <= 300
    assert len(q.options) == 4
    assert all(0 < len(option) <= 100 for option in q.options)
    assert len({option.strip().lower() for option in q.options}) == 4
    assert 0 <= q.correct < len(q.options)
    assert 0 < len(q.explanation) <= 200
    assert q.text.strip() == q.text and q.explanation.strip() == q.explanation


def test_correct_answers_are_spread_over_all_positions() -> None:
    positions = Counter(q.correct for q in QUESTIONS)
    assert set(positions) == {0, 1, 2, 3}
    assert max(positions.values()) <= 0.4 * len(QUESTIONS)


def test_difficulties_cover_easy_to_hard() -> None:
    assert {q.difficulty for q in QUESTIONS} == {1, 2, 3}


def test_question_lookup_by_id() -> None:
    first = QUESTIONS[0]
    assert question(first.id) is first
    assert question("zzz-99") is None
    assert questions_for("no-such-topic") == ()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"difficulty": 4}, "difficulty"),
        ({"correct": 4}, "correct"),
        ({"options": ("a", "a", "b", "c")}, "distinct"),
        ({"text": "x" * 301}, "text"),
        ({"options": ("a" * 101, "b", "c", "d")}, "option"),
        ({"explanation": ""}, "explanation"),
        ({"explanation": "x" * 201}, "explanation"),
    ],
)
def test_a_malformed_question_is_refused_when_built(change: dict[str, object], problem: str) -> None:
    fields: dict[str, object] = {
        "id": "tst-01", "topic": "isolated", "difficulty": 1, "text": "Which?",
        "options": ("a", "b", "c", "d"), "correct": 0, "explanation": "Because.",
    }
    fields.update(change)
    with pytest.raises(ValueError, match=problem):
        Question(**fields)  # type: ignore[arg-type]
