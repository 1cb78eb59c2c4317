"""The /advise advisor: profiles from the article's lists, every answer combination, and inline parsing."""

from __future__ import annotations

import itertools

import pytest

from core.domain.advice import QUESTIONS, Advice, BadAdviceInput, missing, parse_inline, recommend

ALL_ANSWERS = [
    dict(zip((q.key for q in QUESTIONS), codes, strict=True))
    for codes in itertools.product(*(q.codes() for q in QUESTIONS))
]

# Answers that must produce a reason, and a word that reason is sure to contain.
REASON_WORDS = {
    ("exp", "new"): "new to futures",
    ("exp", "experienced"): "experienced",
    ("assets", "several-mixed"): "different risk",
    ("hedge", "yes"): "hedge or run arbitrage",
    ("hedge", "sometimes"): "hedge now and then",
    ("watch", "rarely"): "rarely",
    ("watch", "active"): "live",
    ("loss", "per-trade"): "ceiling per trade",
    ("loss", "all"): "whole balance",
}


def test_five_questions_with_short_unique_codes_and_button_sized_labels() -> None:
    assert [q.key for q in QUESTIONS] == ["exp", "assets", "hedge", "watch", "loss"]
    codes = [code for q in QUESTIONS for code in q.codes()]
    assert len(codes) == len(set(codes))
    for q in QUESTIONS:
        assert len(q.options) == 3
        assert q.text.endswith("?")
        for option in q.options:
            assert option.code == option.code.lower() and " " not in option.code and len(option.code) <= 16
            assert 0 < len(option.label) <= 32


@pytest.mark.parametrize(
    ("profile", "answers", "mode"),
    [
        ("new trader, several coins of different risk", "new several-mixed no daily part", "isolated"),
        ("new trader who also wants to hedge", "new one yes active all", "isolated"),
        ("strict per-trade risk control", "some one no daily per-trade", "isolated"),
        ("wants predictable liquidation, checks rarely", "some several-mixed no rarely part", "isolated"),
        ("experienced hedger who monitors actively", "experienced one yes active part", "cross"),
        ("experienced arbitrageur, whole balance accepted", "experienced several-similar yes active all",
         "cross"),
        ("confident, active, capital-efficiency seeker", "some one sometimes active all", "cross"),
        ("experienced, core BTC plus speculative altcoins", "experienced several-mixed no active part",
         "both"),
        ("experienced hedger who rarely looks", "experienced one yes rarely all", "both"),
        ("nothing pulls towards cross", "some one no daily part", "isolated"),
    ],
)
def test_advisor_follows_the_article_profiles(profile: str, answers: str, mode: str) -> None:
    result = recommend(parse_inline(answers))
    assert result.mode == mode, profile
    assert result.reasons


def test_both_says_which_positions_go_in_which_mode() -> None:
    result = recommend(parse_inline("exp=experienced assets=several-mixed hedge=yes watch=active loss=part"))
    assert result.mode == "both"
    which = result.which.lower()
    assert "isolated" in which and "cross" in which
    assert "altcoin" in which and "speculative" in which
    assert "btc" in which and "hedged" in which
    assert which.index("isolated") < which.index("altcoin") < which.index("cross") < which.index("btc")


@pytest.mark.parametrize("answers", ALL_ANSWERS, ids=lambda a: " ".join(a.values()))
def test_every_answer_combination_gets_a_sound_recommendation(answers: dict[str, str]) -> None:
    result = recommend(answers)
    assert isinstance(result, Advice)
    assert result.mode in ("isolated", "cross", "both")
    assert result.reasons and len(set(result.reasons)) == len(result.reasons)
    assert result.mode in result.which.lower() or result.mode == "both"
    # Article: beginners and strict per-trade control belong in isolated.
    if answers["exp"] == "new" or answers["loss"] == "per-trade":
        assert result.mode == "isolated"
    for (key, code), word in REASON_WORDS.items():
        if answers[key] == code:
            assert any(word in reason.lower() for reason in result.reasons), (key, code)


def test_cross_is_never_advised_alongside_an_isolated_reason() -> None:
    for answers in ALL_ANSWERS:
        result = recommend(answers)
        if result.mode == "cross":
            assert answers["assets"] != "several-mixed" and answers["watch"] != "rarely"


@pytest.mark.parametrize(
    "text",
    [
        "new several-mixed no daily per-trade",
        "per-trade daily no several-mixed new",
        "NEW, Several-Mixed, no, daily, per-trade",
        "exp=new assets=several-mixed hedge=no watch=daily loss=per-trade",
        "experience=new asset=mixed hedging=no monitoring=daily loss=pertrade",
        "new assets=several-mixed no watch=daily per-trade",
    ],
)
def test_parse_inline_reads_words_pairs_and_aliases(text: str) -> None:
    assert parse_inline(text) == {
        "exp": "new", "assets": "several-mixed", "hedge": "no", "watch": "daily", "loss": "per-trade",
    }


def test_parse_inline_round_trips_every_combination() -> None:
    for answers in ALL_ANSWERS:
        assert parse_inline(" ".join(answers.values())) == answers
        assert parse_inline(" ".join(f"{k}={v}" for k, v in answers.items())) == answers


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("", "No answers"),
        ("   ", "No answers"),
        ("exp=guru assets=one hedge=no watch=daily loss=part", "exp=guru"),
        ("risk=high exp=new assets=one hedge=no watch=daily loss=part", "'risk'"),
        ("new one no daily maybe", "'maybe'"),
        ("new experienced one no daily part", "'exp' is answered twice"),
        ("new one no", "watch"),
        ("exp=new", "assets"),
    ],
)
def test_parse_inline_names_the_bad_part_and_shows_an_example(text: str, named: str) -> None:
    with pytest.raises(BadAdviceInput) as caught:
        parse_inline(text)
    message = str(caught.value)
    assert named in message
    assert "/advise " in message
    assert isinstance(caught.value, ValueError)


def test_missing_answers_are_named_with_their_choices() -> None:
    with pytest.raises(ValueError, match=r"watch takes rarely, daily or active; loss takes per-trade"):
        parse_inline("new one no")


def test_recommend_refuses_unknown_or_incomplete_answers() -> None:
    with pytest.raises(BadAdviceInput, match="'mood'"):
        recommend({"mood": "good"})
    with pytest.raises(BadAdviceInput, match="hedge=maybe"):
        recommend({"exp": "new", "assets": "one", "hedge": "maybe", "watch": "daily", "loss": "part"})
    with pytest.raises(BadAdviceInput, match="Missing answers"):
        recommend({"exp": "new"})


def test_missing_lists_the_questions_still_to_ask_in_order() -> None:
    assert [q.key for q in missing({})] == ["exp", "assets", "hedge", "watch", "loss"]
    assert [q.key for q in missing({"exp": "new", "watch": "daily"})] == ["assets", "hedge", "loss"]
    assert missing(ALL_ANSWERS[0]) == ()
