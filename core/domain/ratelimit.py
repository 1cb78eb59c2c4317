"""Outbound rate limiting for pushes: which pending messages may go out now, and when to look again.

Pure and synchronous: time is always passed in (float seconds of a monotonic clock), never read here.

Limits are "at most N sends in any W-second window".  Two limiters implement that shape:

* `SlidingWindow` (the scheduler's default) enforces it exactly: never more than N sends in ANY window of
  W seconds, while still allowing a burst of N at once and N per W in the long run.
* `TokenBucket` (rate N/W, capacity N) has the same long-run rate and the same first burst, but a full
  bucket refilling during the window lets up to 2N-1 sends fall inside one W-second window.  Use it when
  smoothing matters more than the strict window (``DeliveryScheduler(limiter=Rate.bucket)``).

`DeliveryScheduler` keeps one queue per chat and serves chats by the priority of their most urgent
message, so a chat that is rate limited or paused never blocks the messages to other chats behind it.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType
from typing import Final, Generic, NamedTuple, Protocol, TypeVar

_NEVER: Final = float("-inf")


# --------------------------------------------------------------------------------------------- limiters


class Limiter(Protocol):
    """Admission control for one key (a platform, a chat)."""

    def available(self, now: float) -> float:
        """How many sends are allowed right now (may be fractional for a token bucket)."""
        ...

    def try_take(self, now: float) -> bool:
        """Record one send at `now` if allowed; False (and no change) if not."""
        ...

    def next_free(self, now: float) -> float:
        """Earliest time >= now at which one send is allowed."""
        ...

    def idle_at(self, now: float) -> float:
        """Earliest time >= now from which the limiter is back to its initial state (safe to forget)."""
        ...


class TokenBucket:
    """`capacity` tokens, refilled continuously at `rate` per second; one send costs one token.

    Kept as a GCRA "theoretical arrival time", which is the same maths as a token bucket but makes
    `try_take(next_free(t))` succeed exactly, without floating-point epsilons.
    """

    __slots__ = ("_interval", "_tat", "_tolerance", "capacity", "rate")

    def __init__(self, rate: float, capacity: float) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if not capacity >= 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._interval = 1.0 / self.rate
        self._tolerance = (self.capacity - 1.0) * self._interval
        self._tat = _NEVER  # time at which the bucket is full again; -inf: full from the start

    def available(self, now: float) -> float:
        """Tokens in the bucket at `now`, between 0 and capacity."""
        if self._tat <= now:
            return self.capacity
        return max(0.0, self.capacity - (self._tat - now) * self.rate)

    def try_take(self, now: float) -> bool:
        if self._tat - self._tolerance > now:
            return False
        self._tat = max(self._tat, now) + self._interval
        return True

    def next_free(self, now: float) -> float:
        return max(now, self._tat - self._tolerance)

    def idle_at(self, now: float) -> float:
        return max(now, self._tat)


class SlidingWindow:
    """At most `count` sends in any half-open window [t, t + per): remembers the last `count` send times."""

    __slots__ = ("_sent", "count", "per")

    def __init__(self, count: int, per: float) -> None:
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        if not per > 0:
            raise ValueError(f"per must be positive, got {per}")
        self.count = count
        self.per = float(per)
        self._sent: deque[float] = deque(maxlen=count)

    def available(self, now: float) -> float:
        return float(self.count - sum(1 for sent in self._sent if sent + self.per > now))

    def try_take(self, now: float) -> bool:
        sent = self._sent
        if len(sent) == self.count and sent[0] + self.per > now:
            return False
        sent.append(max(now, sent[-1]) if sent else now)  # a clock going backwards never frees a slot
        return True

    def next_free(self, now: float) -> float:
        if len(self._sent) < self.count:
            return now
        return max(now, self._sent[0] + self.per)

    def idle_at(self, now: float) -> float:
        return max(now, self._sent[-1] + self.per) if self._sent else now


@dataclass(frozen=True, slots=True)
class Rate:
    """`count` sends per `per` seconds."""

    count: int
    per: float = 1.0

    def __post_init__(self) -> None:
        if self.count < 1 or not self.per > 0:
            raise ValueError(f"invalid rate {self.count} per {self.per} s")

    @property
    def per_second(self) -> float:
        return self.count / self.per

    def window(self) -> Limiter:
        """Strict limiter: never more than `count` in any `per`-second window."""
        return SlidingWindow(self.count, self.per)

    def bucket(self) -> Limiter:
        """Token bucket with the same long-run rate and a burst of `count` (see module docstring)."""
        return TokenBucket(self.per_second, self.count)


# ------------------------------------------------------------------------------------- platform limits

PRIVATE: Final = "private"
GROUP: Final = "group"
_CHAT_KINDS: Final = MappingProxyType(
    {"private": PRIVATE, "group": GROUP, "supergroup": GROUP, "channel": GROUP}  # Telegram's Chat.type
)


def normalize_chat_kind(kind: str) -> str:
    """The canonical chat kind, "private" or "group" (Telegram's supergroups and channels are groups)."""
    canonical = _CHAT_KINDS.get(kind)
    if canonical is not None:
        return canonical
    try:
        return _CHAT_KINDS[kind.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown chat kind {kind!r}; expected one of {sorted(_CHAT_KINDS)}") from None


@dataclass(frozen=True, slots=True)
class PlatformLimits:
    """Send limits of one platform; None means unlimited at that level."""

    platform: str
    overall: Rate | None = None  # every message of the bot on this platform
    private_chat: Rate | None = None  # each private chat separately
    group_chat: Rate | None = None  # each group chat separately

    def chat_rate(self, chat_kind: str) -> Rate | None:
        return self.private_chat if normalize_chat_kind(chat_kind) == PRIVATE else self.group_chat


TELEGRAM_LIMITS: Final = PlatformLimits(
    "telegram", overall=Rate(30, 1.0), private_chat=Rate(1, 1.0), group_chat=Rate(20, 60.0)
)
DISCORD_LIMITS: Final = PlatformLimits("discord", overall=Rate(50, 1.0))
DEFAULT_LIMITS: Final = (TELEGRAM_LIMITS, DISCORD_LIMITS)


# ------------------------------------------------------------------------------------------ priorities


class Priority(IntEnum):
    """Lower is more urgent."""

    LIQUIDATION = 0
    DANGER = 1
    WARNING = 2
    FILL = 3
    PRICE_ALERT = 4
    FUNDING = 5
    DIGEST = 6


# Unknown kinds (order_cancelled, position_closed, ...) rank with fills: after every risk warning, before
# price alerts, FIFO with the fills they usually accompany.
DEFAULT_PRIORITY: Final = Priority.FILL

KIND_PRIORITY: Final[Mapping[str, Priority]] = MappingProxyType(
    {
        "liquidation": Priority.LIQUIDATION,
        "margin_danger": Priority.DANGER,
        "margin_call": Priority.DANGER,
        "margin_warning": Priority.WARNING,
        "order_filled": Priority.FILL,
        "price_alert": Priority.PRICE_ALERT,
        "funding": Priority.FUNDING,
        "digest": Priority.DIGEST,
        "quiz_reminder": Priority.DIGEST,
    }
)


def priority_for(kind: str) -> Priority:
    """Priority of an `Outgoing.kind`; unknown kinds get `DEFAULT_PRIORITY`."""
    return KIND_PRIORITY.get(kind.strip().lower(), DEFAULT_PRIORITY)


def backoff(attempt: int, *, base: float = 1.0, cap: float = 300.0) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, 3 ...): base, 2·base, 4·base ... at most cap."""
    exponent = min(max(attempt, 1) - 1, 62)
    return float(min(cap, base * (1 << exponent)))


# ---------------------------------------------------------------------------------------------- items


class Deliverable(Protocol):
    """What the scheduler needs of a queued item; anything else on it is opaque payload."""

    @property
    def platform(self) -> str: ...

    @property
    def chat_id(self) -> str: ...

    @property
    def chat_kind(self) -> str: ...

    @property
    def priority(self) -> int: ...


P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Delivery(Generic[P]):
    """A ready-made item: one payload (e.g. an `Outgoing`) to one chat, with its retry count."""

    platform: str
    chat_id: str
    chat_kind: str
    priority: int
    payload: P
    attempt: int = 0  # failed sends so far


class ChatKey(NamedTuple):
    platform: str
    kind: str  # "private" or "group"
    chat_id: str


def chat_key(item: Deliverable) -> ChatKey:
    return ChatKey(item.platform, normalize_chat_kind(item.chat_kind), item.chat_id)


# ------------------------------------------------------------------------------------------ scheduler

T = TypeVar("T", bound=Deliverable)

_IDLE, _READY, _SLEEPING = 0, 1, 2


@dataclass(slots=True, eq=False)
class _Chat(Generic[T]):
    key: ChatKey
    limiter: Limiter | None
    queue: list[tuple[int, int, T]] = field(default_factory=list)  # heap of (priority, seq, item)
    paused_until: float = _NEVER
    token: int = -1  # only the heap entry carrying the current token is live; older ones are stale
    where: int = _IDLE


@dataclass(slots=True, eq=False)
class _Platform(Generic[T]):
    limits: PlatformLimits
    limiter: Limiter | None
    paused_until: float = _NEVER
    ready: list[tuple[int, int, int, _Chat[T]]] = field(default_factory=list)  # (priority, seq, token, chat)

    def gate(self, now: float) -> float:
        """Earliest time >= now at which this platform may send one more message."""
        free = self.limiter.next_free(now) if self.limiter is not None else now
        return max(now, self.paused_until, free)


class DeliveryScheduler(Generic[T]):
    """Priority queue of pending pushes that releases only what every applicable limit allows.

    Use: `push` items; at `now` call `due(now)` and send what it returns (their sends are already counted
    against the limits); sleep until `next_wake(now)`.  On failure `retry_later(item, now + backoff(n))`;
    on a platform's "retry after" `pause_chat(chat_key(item), now + retry_after)` as well.
    """

    def __init__(
        self,
        limits: Iterable[PlatformLimits] = DEFAULT_LIMITS,
        *,
        limiter: Callable[[Rate], Limiter] = Rate.window,
    ) -> None:
        self._make_limiter = limiter
        self._platforms: dict[str, _Platform[T]] = {}
        for spec in limits:
            if spec.platform in self._platforms:
                raise ValueError(f"platform {spec.platform!r} configured twice")
            overall = limiter(spec.overall) if spec.overall is not None else None
            self._platforms[spec.platform] = _Platform(spec, overall)
        self._chats: dict[ChatKey, _Chat[T]] = {}
        self._sleeping: list[tuple[float, int, _Chat[T]]] = []  # (wake, token, chat): chats waiting on limits
        self._idle: list[tuple[float, int, _Chat[T]]] = []  # (forget_at, token, chat): empty chats to drop
        self._delayed: list[tuple[float, int, T]] = []  # (not_before, seq, item): retries
        self._seq = itertools.count()
        self._tokens = itertools.count()
        self._pending = 0

    def __len__(self) -> int:
        """Items not yet handed out by `due` (including retries waiting for their time)."""
        return self._pending

    def tracked_chats(self) -> int:
        """Chats whose state is kept (queued items, a pause, or sends still inside their window)."""
        return len(self._chats)

    # ----- input

    def push(self, item: T) -> None:
        """Queue one item (validated at once: unknown platform or chat kind raises ValueError)."""
        self._enqueue(item, next(self._seq))
        self._pending += 1

    def retry_later(self, item: T, at: float) -> None:
        """Queue `item` again, not to be sent before `at` (see `backoff`)."""
        self._chat_state(item)  # validate now, not when it matures
        heapq.heappush(self._delayed, (at, next(self._seq), item))
        self._pending += 1

    def pause_chat(self, chat: ChatKey, until: float) -> None:
        """Send nothing to `chat` before `until` (e.g. Telegram's RetryAfter); extends, never shortens."""
        state = self._chat(self._platform(chat.platform), chat.kind, chat.chat_id)
        state.paused_until = max(state.paused_until, until)
        token = self._retoken(state)
        if state.queue:
            state.where = _SLEEPING
            heapq.heappush(self._sleeping, (state.paused_until, token, state))
        else:
            state.where = _IDLE
            heapq.heappush(self._idle, (self._forget_at(state, until), token, state))

    def pause_platform(self, platform: str, until: float) -> None:
        """Send nothing on `platform` before `until` (a global flood wait)."""
        plat = self._platform(platform)
        plat.paused_until = max(plat.paused_until, until)

    # ----- output

    def due(self, now: float) -> list[T]:
        """Items to send now, most urgent first (FIFO within a priority); their sends are counted."""
        self._release_delayed(now)
        self._wake_chats(now)
        out: list[tuple[int, int, T]] = []
        for plat in self._platforms.values():
            self._drain(plat, now, out)
        self._forget_idle(now)
        out.sort(key=lambda entry: (entry[0], entry[1]))
        self._pending -= len(out)
        return [item for _, _, item in out]

    def next_wake(self, now: float) -> float | None:
        """When `due` may next return something (>= now); None when nothing is pending at all."""
        wakes: list[float] = []
        if self._delayed:
            wakes.append(self._delayed[0][0])
        _drop_stale(self._sleeping)
        if self._sleeping:
            wakes.append(self._sleeping[0][0])
        for plat in self._platforms.values():
            _drop_stale_ready(plat.ready)
            if plat.ready:
                wakes.append(plat.gate(now))
        return max(now, min(wakes)) if wakes else None

    # ----- internals

    def _platform(self, name: str) -> _Platform[T]:
        try:
            return self._platforms[name]
        except KeyError:
            raise ValueError(f"no limits configured for platform {name!r}") from None

    def _chat(self, plat: _Platform[T], kind: str, chat_id: str) -> _Chat[T]:
        key = ChatKey(plat.limits.platform, normalize_chat_kind(kind), chat_id)
        state = self._chats.get(key)
        if state is None:
            rate = plat.limits.chat_rate(key.kind)
            state = _Chat(key, self._make_limiter(rate) if rate is not None else None)
            self._chats[key] = state
        return state

    def _chat_state(self, item: T) -> tuple[_Platform[T], _Chat[T]]:
        plat = self._platform(item.platform)
        return plat, self._chat(plat, item.chat_kind, item.chat_id)

    def _retoken(self, chat: _Chat[T]) -> int:
        chat.token = next(self._tokens)
        return chat.token

    def _enqueue(self, item: T, seq: int) -> None:
        plat, chat = self._chat_state(item)
        entry = (int(item.priority), seq, item)
        heapq.heappush(chat.queue, entry)
        if chat.where == _SLEEPING or (chat.where == _READY and chat.queue[0] is not entry):
            return  # already scheduled, and its position in the ready heap is still right
        chat.where = _READY
        heapq.heappush(plat.ready, (entry[0], seq, self._retoken(chat), chat))

    def _chat_wake(self, chat: _Chat[T], now: float) -> float:
        free = chat.limiter.next_free(now) if chat.limiter is not None else now
        return max(now, chat.paused_until, free)

    def _forget_at(self, chat: _Chat[T], now: float) -> float:
        free = chat.limiter.idle_at(now) if chat.limiter is not None else now
        return max(now, chat.paused_until, free)

    def _place(self, chat: _Chat[T], plat: _Platform[T], now: float) -> None:
        """Put a chat back where it belongs after it sent or woke up."""
        token = self._retoken(chat)
        if not chat.queue:
            chat.where = _IDLE
            heapq.heappush(self._idle, (self._forget_at(chat, now), token, chat))
            return
        wake = self._chat_wake(chat, now)
        if wake <= now:
            chat.where = _READY
            head = chat.queue[0]
            heapq.heappush(plat.ready, (head[0], head[1], token, chat))
        else:
            chat.where = _SLEEPING
            heapq.heappush(self._sleeping, (wake, token, chat))

    def _drain(self, plat: _Platform[T], now: float, out: list[tuple[int, int, T]]) -> None:
        ready = plat.ready
        while ready and plat.gate(now) <= now:
            _, _, token, chat = heapq.heappop(ready)
            if token != chat.token:
                continue
            if self._chat_wake(chat, now) > now:  # this chat is exhausted: skip it, never block the rest
                self._place(chat, plat, now)
                continue
            if plat.limiter is not None:
                plat.limiter.try_take(now)
            if chat.limiter is not None:
                chat.limiter.try_take(now)
            out.append(heapq.heappop(chat.queue))
            self._place(chat, plat, now)

    def _wake_chats(self, now: float) -> None:
        sleeping = self._sleeping
        while sleeping and sleeping[0][0] <= now:
            _, token, chat = heapq.heappop(sleeping)
            if token == chat.token:
                self._place(chat, self._platforms[chat.key.platform], now)

    def _release_delayed(self, now: float) -> None:
        delayed = self._delayed
        while delayed and delayed[0][0] <= now:
            _, seq, item = heapq.heappop(delayed)
            self._enqueue(item, seq)

    def _forget_idle(self, now: float) -> None:
        idle = self._idle
        while idle and idle[0][0] <= now:
            _, token, chat = heapq.heappop(idle)
            if token == chat.token and chat.where == _IDLE and not chat.queue:
                del self._chats[chat.key]


def _drop_stale(heap: list[tuple[float, int, _Chat[T]]]) -> None:
    while heap and heap[0][1] != heap[0][2].token:
        heapq.heappop(heap)


def _drop_stale_ready(heap: list[tuple[int, int, int, _Chat[T]]]) -> None:
    while heap and heap[0][2] != heap[0][3].token:
        heapq.heappop(heap)
