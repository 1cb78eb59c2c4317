"""Per-user command rate limit (issue: reliability & security, abuse)."""

from core.domain.throttle import CommandThrottle, Verdict


def test_twenty_commands_in_ten_seconds_pass_then_one_notice_then_silence():
    throttle = CommandThrottle(limit=20, window=10.0)
    verdicts = [throttle.check("telegram:1", 0.1 * i) for i in range(25)]
    assert verdicts[:20] == [Verdict.OK] * 20
    assert verdicts[20] is Verdict.NOTICE
    assert verdicts[21:] == [Verdict.SILENT] * 4


def test_a_cooled_down_user_is_served_again_and_would_be_noticed_again():
    throttle = CommandThrottle(limit=3, window=10.0)
    for t in (0.0, 1.0, 2.0):
        assert throttle.check("u", t) is Verdict.OK
    assert throttle.check("u", 3.0) is Verdict.NOTICE
    assert throttle.check("u", 4.0) is Verdict.SILENT
    assert throttle.check("u", 10.5) is Verdict.OK  # the command at 0.0 left the window
    assert throttle.check("u", 10.6) is Verdict.NOTICE


def test_users_are_limited_separately_and_idle_ones_are_forgotten():
    throttle = CommandThrottle(limit=1, window=5.0)
    assert throttle.check("a", 0.0) is Verdict.OK
    assert throttle.check("b", 0.0) is Verdict.OK
    assert throttle.check("a", 1.0) is Verdict.NOTICE
    throttle.forget_idle(100.0)
    assert len(throttle) == 0
