"""Lessons: order, phone-sized plain pages, coverage of the source article's ideas, and no copied prose."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.domain import advice, quiz_bank
from core.domain.lessons import LESSONS, MAX_PAGE_CHARS, TOPICS, Lesson, lesson

# The article lives next to the repository (/work/shared), not inside it.
ARTICLE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "source-article.txt"
COPY_RUN_WORDS = 8

EXPECTED_TOPICS = (
    "isolated", "cross", "isolated-benefits", "cross-benefits", "cross-danger", "comparison", "choosing",
    "both", "faq", "tools", "paper-trading", "mark-price", "brackets", "cross-liq-moves",
    "liquidation-leftover",
)

# Ideas from the article (and the exchange rules users trip on) that each lesson must carry.
REQUIRED_PHRASES: dict[str, tuple[str, ...]] = {
    "isolated": ("own pot", "only collateral", "maintenance margin", "/margin btc add", "/margin btc remove"),
    "cross": ("shared", "cross wallet balance", "margin ratio", "100 %", "every cross position", "/mode"),
    "isolated-benefits": ("fenced in", "leverage per position", "many coins", "predictable", "crash"),
    "cross-benefits": ("capital efficiency", "liquidation comes later", "bookkeeping", "hedge", "/compare"),
    "cross-danger": ("correlated", "same moment", "every cross position is closed", "clearance fee",
                     "/whatif"),
    "comparison": ("risk exposure", "capital efficiency", "liquidation risk", "best for", "flexibility"),
    "choosing": ("new to futures", "several coins", "arbitrage", "hedge", "watch", "/advise"),
    "both": ("per symbol", "altcoins", "btc or eth", "isolated", "cross", "slow trends"),
    "faq": ("no open position and no open order", "postpones", "safer", "stop-loss", "take-profit",
            "effective leverage", "/sl", "/tp"),
    "tools": ("/alert", "trailing stop", "/trail", "margin health", "/health", "/sl"),
    "paper-trading": ("paper money", "practice", "/compare", "/drill", "/quiz", "/reset"),
    "mark-price": ("mark price", "last price", "index", "liquidation", "spike"),
    "brackets": ("tax brackets", "notional × rate − maintenance amount", "maintenance amount", "leverage",
                 "/whatif"),
    "cross-liq-moves": ("other cross positions", "funding", "fees", "leverage", "/positions"),
    "liquidation-leftover": ("bankruptcy price", "insurance fund", "clearance fee", "below zero",
                             "exactly that position's margin"),
}

BOT_COMMANDS = (
    "/long", "/short", "/close", "/margin", "/leverage", "/mode", "/alert", "/trail", "/sl", "/tp",
    "/health", "/whatif", "/compare", "/drill", "/quiz", "/advise",
)


def _lesson_text(item: Lesson) -> str:
    return "\n".join((item.title, *item.pages)).lower()


def _all_lessons_text() -> str:
    return "\n".join(_lesson_text(item) for item in LESSONS)


def test_topics_come_in_teaching_order() -> None:
    assert TOPICS == EXPECTED_TOPICS
    assert tuple(item.topic for item in LESSONS) == TOPICS


def test_lesson_is_found_by_topic_and_unknown_topics_give_none() -> None:
    for topic in TOPICS:
        found = lesson(topic)
        assert found is not None and found.topic == topic
    assert lesson("  Cross ") == lesson("cross")
    assert lesson("hedge-mode") is None


@pytest.mark.parametrize("item", LESSONS, ids=lambda item: item.topic)
def test_every_page_fits_a_phone_screen(item: Lesson) -> None:
    assert item.title and len(item.title) <= 60
    assert 2 <= len(item.pages) <= 4
    for page in item.pages:
        assert 0 < len(page) <= MAX_PAGE_CHARS <= 700


@pytest.mark.parametrize("item", LESSONS, ids=lambda item: item.topic)
def test_pages_are_plain_text_without_markup(item: Lesson) -> None:
    for page in item.pages:
        assert not re.search(r"<[a-z/][^>]*>", page), "HTML tag"
        for marker in ("**", "__", "`", "](", "#"):
            assert marker not in page, f"Markdown marker {marker!r}"


@pytest.mark.parametrize("topic", EXPECTED_TOPICS)
def test_each_lesson_teaches_its_key_concepts(topic: str) -> None:
    found = lesson(topic)
    assert found is not None
    text = _lesson_text(found)
    missing = [phrase for phrase in REQUIRED_PHRASES[topic] if phrase not in text]
    assert not missing, f"{topic} lacks {missing}"


def test_lessons_mention_every_bot_command_they_teach() -> None:
    text = _all_lessons_text()
    missing = [cmd for cmd in BOT_COMMANDS if not re.search(re.escape(cmd) + r"\b", text)]
    assert not missing


def test_lessons_state_the_exchange_rules_users_trip_on() -> None:
    text = _all_lessons_text()
    # Binance: cross liquidation price ignores leverage; liquidation follows the mark; mode switch refused.
    assert "the liquidation price ignores it" in text
    assert "liquidation use the mark" in text
    assert "only while eth has no position and no open order" in text
    assert "isolated positions live outside this pool" in text


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower().replace("’", "").replace("'", ""))


def _runs(text: str, size: int = COPY_RUN_WORDS) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i:i + size]) for i in range(len(words) - size + 1)}


def _our_texts() -> list[str]:
    texts = [text for item in LESSONS for text in (item.title, *item.pages)]
    for q in quiz_bank.QUESTIONS:
        texts += [q.text, q.explanation, *q.options]
    for aq in advice.QUESTIONS:
        texts += [aq.text, *(option.label for option in aq.options)]
    for answers in _sample_advice_answers():
        result = advice.recommend(answers)
        texts += [*result.reasons, result.which]
    return texts


def _sample_advice_answers() -> list[dict[str, str]]:
    """Enough profiles that every reason the advisor can give shows up at least once."""
    profiles = [
        "new several-mixed yes rarely per-trade",
        "experienced several-similar sometimes active all",
        "experienced several-mixed yes active part",
        "some one no daily part",
        "new one yes active all",
        "experienced one yes daily per-trade",
    ]
    return [advice.parse_inline(profile) for profile in profiles]


def test_run_finder_catches_a_copied_sentence() -> None:
    copied = "Isolated margin means that each position is allocated a specific amount of margin"
    assert _runs("Note: " + copied.upper() + "!") & _runs(copied)
    assert not _runs("isolated margin gives every position its own pot of money") & _runs(copied)


@pytest.mark.skipif(not ARTICLE.exists(), reason=f"source article not available at {ARTICLE}")
def test_no_text_copies_eight_words_in_a_row_from_the_source_article() -> None:
    article = _runs(ARTICLE.read_text(encoding="utf-8"))
    copied = {" ".join(run) for text in _our_texts() for run in _runs(text) & article}
    assert not copied, f"copied from the article: {sorted(copied)}"
