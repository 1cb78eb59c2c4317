"""An in-process HTTP stand-in for the Telegram Bot API, for tests.

python-telegram-bot's *real* ``Application`` (HTTPX client, Updater long polling, handlers) talks to
this server over 127.0.0.1 exactly as it would talk to ``api.telegram.org``::

    async with BotApiStandIn() as api:
        app = (
            ApplicationBuilder().token(api.default_token)
            .base_url(f"{api.base_url}/bot").base_file_url(f"{api.base_url}/file/bot")
            .job_queue(None).build()
        )                                  # or: api.application_builder().job_queue(None).build()
        ...                                # initialize/start/start_polling
        api.push_update(api.message(42, "/ping"))
        call = await api.wait_for("sendMessage")
        assert call.params["text"] == "pong"

Results follow the Bot API 10.0 shapes that PTB 22.8 parses (required fields included, e.g. poll
options carry ``persistent_id``, polls ``allows_revoting`` and ``members_only``).  Commonly hit
server-side errors are reproduced with Telegram's wording (HTML/MarkdownV2 entity parsing, "message
is not modified", too long texts, bad callback_data, unknown methods ...), so adapter bugs surface
in tests instead of in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import itertools
import json
import re
import socket
import struct
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

__all__ = [
    "DEFAULT_BOT_ID",
    "DEFAULT_BOT_USERNAME",
    "ApiError",
    "BotApiStandIn",
    "Call",
    "UploadedFile",
    "format_text",
    "tiny_png",
    "utf16_len",
]

JSON = dict[str, Any]

DEFAULT_BOT_ID = 999000
DEFAULT_BOT_USERNAME = "DojoTestBot"

# Limits (mirroring telegram.constants of PTB 22.8 / Bot API 10.0, duplicated to keep this module
# independent from the library under test).
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_ANSWER_CALLBACK_TEXT = 200
POLL_QUESTION_LENGTH = (1, 300)
POLL_OPTION_LENGTH = (1, 100)
POLL_OPTION_NUMBER = (1, 12)
POLL_EXPLANATION_LENGTH = 200
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

# Form values of these top-level keys are free text and are never JSON-decoded.
_TEXT_KEYS = frozenset(
    {
        "text",
        "caption",
        "question",
        "explanation",
        "description",
        "short_description",
        "name",
        "title",
        "data",
        "query",
        "emoji",
        "first_name",
        "last_name",
        "custom_title",
        "payload",
        "start_parameter",
        "secret_token",
        "url",
        "ip_address",
        "parse_mode",
        "action",
        "language_code",
        "photo",
        "document",
        "certificate",
    }
)
# ``*_id`` keys whose values are strings in the Bot API even when they look numeric.
_STRING_ID_KEYS = frozenset(
    {
        "callback_query_id",
        "inline_query_id",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "file_id",
        "custom_emoji_id",
        "shipping_query_id",
        "pre_checkout_query_id",
        "poll_id",
        "gift_id",
        "web_app_query_id",
    }
)

_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,64})?(?=\s|$)")
_BOT_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (the unit of Telegram entity offsets/lengths)."""
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------------------------------
# Public records
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request (e.g. the ``photo`` of sendPhoto)."""

    filename: str | None
    content_type: str | None
    data: bytes

    def __repr__(self) -> str:
        return f"UploadedFile({self.filename!r}, {self.content_type!r}, {len(self.data)} bytes)"


@dataclass
class Call:
    """One HTTP request received by the stand-in.

    ``params`` are decoded: form/query values that are JSON objects/arrays become dicts/lists, ids and
    counters become ``int``, ``"true"``/``"false"`` become ``bool`` (free-text keys such as ``text``,
    ``caption``, ``question`` and string ids such as ``callback_query_id`` stay ``str``), file parts
    become :class:`UploadedFile`.  ``ok``/``status``/``result``/``error`` are filled in once the
    stand-in has answered (``done``).
    """

    method: str
    params: dict[str, Any]
    token: str = ""
    http_method: str = "POST"
    encoding: str = "empty"  # "form" | "multipart" | "json" | "query" | "empty"
    at: float = field(default_factory=time.monotonic)
    ok: bool | None = None
    status: int | None = None
    result: Any = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.ok is not None

    def __getitem__(self, key: str) -> Any:
        return self.params[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    def summary(self) -> str:
        shown = []
        for key in ("chat_id", "message_id", "text", "question", "caption", "callback_query_id"):
            if key in self.params:
                value = self.params[key]
                if isinstance(value, str) and len(value) > 40:
                    value = value[:37] + "..."
                shown.append(f"{key}={value!r}")
        status = "" if self.ok in (None, True) else f" -> {self.status} {self.error}"
        return f"{self.method}({', '.join(shown)}){status}"


class ApiError(Exception):
    """Raised inside method implementations; turned into ``{"ok": false, ...}`` with that HTTP status."""

    def __init__(self, error_code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(text: str) -> ApiError:
    return ApiError(400, f"Bad Request: {text}")


def _parse_error(text: str) -> ApiError:
    return _bad_request(f"can't parse entities: {text}")


@dataclass
class _Failure:
    method: str  # lower case
    chat_id: int | str | None
    error: ApiError
    remaining: int
    predicate: Callable[[Call], bool] | None


# --------------------------------------------------------------------------------------------------
# Formatted text (HTML / MarkdownV2 / Markdown) -> plain text + entities, the way Telegram does it
# --------------------------------------------------------------------------------------------------


class _TextBuilder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.offset = 0  # UTF-16 units
        self.entities: list[JSON] = []

    def emit(self, text: str) -> None:
        self.parts.append(text)
        self.offset += utf16_len(text)

    def add_entity(self, etype: str, start: int, **extra: Any) -> None:
        length = self.offset - start
        if length > 0:
            self.entities.append({"type": etype, "offset": start, "length": length, **extra})

    def result(self) -> tuple[str, list[JSON]]:
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_ENTITY_RE = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_HTML_ATTR_RE = re.compile(r"""([a-zA-Z_-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")


def _html_unescape(match: re.Match[str]) -> str:
    name = match.group(1)
    simple = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
    if name in simple:
        return simple[name]
    return chr(int(name[2:], 16) if name[1] in "xX" else int(name[1:]))


def _parse_html(text: str) -> tuple[str, list[JSON]]:
    out = _TextBuilder()
    stack: list[tuple[str, int, dict[str, str]]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "&":
            m = _HTML_ENTITY_RE.match(text, i)
            out.emit(_html_unescape(m) if m else "&")
            i = m.end() if m else i + 1
            continue
        if ch != "<":
            j = i
            while j < len(text) and text[j] not in "<&":
                j += 1
            out.emit(text[i:j])
            i = j
            continue
        byte_offset = len(text[:i].encode())
        # Like tdlib: the tag name runs up to whitespace or ">" and is validated before attributes.
        name_match = re.compile(r"/?[^\s>]*").match(text, i + 1)
        assert name_match is not None
        name = name_match.group().lower()
        end = text.find(">", name_match.end())
        if name_match.end() >= len(text):
            raise _parse_error(f"Unclosed start tag at byte offset {byte_offset}")
        if not name.startswith("/") and name not in _HTML_TAGS:
            raise _parse_error(f'Unsupported start tag "{name}" at byte offset {byte_offset}')
        if end < 0:
            raise _parse_error(f"Unclosed start tag at byte offset {byte_offset}")
        if name.startswith("/"):
            if not stack:
                raise _parse_error(f'Unexpected end tag "{name[1:]}" at byte offset {byte_offset}')
            tag, start, attrs = stack.pop()
            if name[1:] != tag:
                raise _parse_error(
                    f'Unmatched end tag at byte offset {byte_offset}, expected "</{tag}>", found "<{name}>"'
                )
            _html_close(out, stack, tag, start, attrs)
        else:
            rest = text[name_match.end() : end]
            attrs = {
                m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or "" for m in _HTML_ATTR_RE.finditer(rest)
            }
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise _parse_error(f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset}')
            stack.append((name, out.offset, attrs))
        i = end + 1
    if stack:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


def _html_close(
    out: _TextBuilder, stack: list[tuple[str, int, dict[str, str]]], tag: str, start: int, attrs: dict[str, str]
) -> None:
    etype = _HTML_TAGS[tag]
    if etype == "code" and stack and stack[-1][0] == "pre":
        language = attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1][2]["language"] = language.removeprefix("language-")
            return
    extra: dict[str, Any] = {}
    if etype == "pre" and attrs.get("language"):
        extra["language"] = attrs["language"]
    elif etype == "text_link":
        extra["url"] = attrs.get("href", "")
    elif etype == "custom_emoji":
        extra["custom_emoji_id"] = attrs.get("emoji-id", "")
    elif etype == "blockquote" and "expandable" in attrs:
        etype = "expandable_blockquote"
    out.add_entity(etype, start, **extra)


_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def _mdv2_closes(etype: str, text: str, i: int) -> bool:
    nxt = text[i + 1 : i + 2]
    return {
        "bold": text[i] == "*",
        "italic": text[i] == "_" and nxt != "_",
        "underline": text.startswith("__", i),
        "strikethrough": text[i] == "~",
        "spoiler": text.startswith("||", i),
        "code": text[i] == "`",
        "pre": text.startswith("```", i),
        "text_link": text[i] == "]",
        "custom_emoji": text[i] == "]",
    }[etype]


def _mdv2_opens(text: str, i: int) -> tuple[str, int] | None:
    """Entity type starting at ``text[i]`` and the number of marker characters, or None."""
    ch = text[i]
    if ch == "_":
        return ("underline", 2) if text.startswith("__", i) else ("italic", 1)
    if ch == "`":
        return ("pre", 3) if text.startswith("```", i) else ("code", 1)
    if text.startswith("||", i):
        return "spoiler", 2
    if text.startswith("![", i):
        return "custom_emoji", 2
    return {"*": ("bold", 1), "~": ("strikethrough", 1), "[": ("text_link", 1)}.get(ch)


def _mdv2_link_target(text: str, i: int) -> tuple[str | None, int]:
    """Parse ``(url)`` at ``text[i]``; returns (url or None, index after it)."""
    if text[i : i + 1] != "(":
        return None, i
    url: list[str] = []
    j = i + 1
    while j < len(text) and text[j] != ")":
        if text[j] == "\\" and j + 1 < len(text):
            j += 1
        url.append(text[j])
        j += 1
    if j >= len(text):
        raise _parse_error(f"Can't find end of a url at byte offset {len(text[:i].encode())}")
    return "".join(url), j + 1


def _parse_markdown_v2(text: str) -> tuple[str, list[JSON]]:
    out = _TextBuilder()
    stack: list[tuple[str, int, int, JSON]] = []  # (type, start offset, byte offset, extra)
    quote_start: int | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        top = stack[-1][0] if stack else None
        if ch == "\\" and i + 1 < len(text) and 0 < ord(text[i + 1]) <= 126:
            out.emit(text[i + 1])
            i += 2
            continue
        at_line_start = i == 0 or text[i - 1] == "\n"
        if ch == ">" and at_line_start and top is None:
            quote_start = out.offset if quote_start is None else quote_start
            i += 1
            continue
        if ch == "\n" and quote_start is not None and not text.startswith(">", i + 1):
            out.add_entity("blockquote", quote_start)
            quote_start = None
        if (top in ("code", "pre") and ch != "`") or (top not in ("code", "pre") and ch not in _MDV2_RESERVED):
            out.emit(ch)
            i += 1
            continue
        byte_offset = len(text[:i].encode())
        if top is not None and _mdv2_closes(top, text, i):
            etype, start, _, extra = stack.pop()
            i += {"underline": 2, "spoiler": 2, "pre": 3}.get(etype, 1)
            if etype in ("text_link", "custom_emoji"):
                url, i = _mdv2_link_target(text, i)
                if etype == "custom_emoji":
                    extra["custom_emoji_id"] = (url or "").removeprefix("tg://emoji?id=")
                else:
                    extra["url"] = url if url is not None else "".join(out.parts)[start:]
            out.add_entity(etype, start, **extra)
            continue
        opened = _mdv2_opens(text, i)
        if opened is None:
            raise _parse_error(f"Character '{ch}' is reserved and must be escaped with the preceding '\\'")
        etype, width = opened
        i += width
        extra = {}
        if etype == "pre":
            newline = text.find("\n", i)
            closing = text.find("```", i)
            if newline >= 0 and (closing < 0 or newline < closing):
                if text[i:newline].strip():
                    extra["language"] = text[i:newline].strip()
                i = newline + 1
        stack.append((etype, out.offset, byte_offset, extra))
    if stack:
        etype, _, byte_offset, _ = stack[-1]
        raise _parse_error(f"Can't find end of {_MDV2_NAMES[etype]} entity at byte offset {byte_offset}")
    if quote_start is not None:
        out.add_entity("blockquote", quote_start)
    return out.result()


def _parse_markdown(text: str) -> tuple[str, list[JSON]]:
    """Legacy ``Markdown`` mode: no nesting, only ``_*`[`` are special."""
    out = _TextBuilder()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and text[i + 1 : i + 2] in ("_", "*", "`", "["):
            out.emit(text[i + 1])
            i += 2
            continue
        if ch not in "_*`[":
            out.emit(ch)
            i += 1
            continue
        byte_offset = len(text[:i].encode())
        marker = "```" if text.startswith("```", i) else ("]" if ch == "[" else ch)
        begin = i + (3 if marker == "```" else 1)
        end = text.find(marker, begin)
        if end < 0:
            raise _parse_error(f"Can't find end of the entity starting at byte offset {byte_offset}")
        content, extra = text[begin:end], {}
        i = end + len(marker)
        if marker == "```" and "\n" in content:
            language, content = content.split("\n", 1)
            if language.strip():
                extra["language"] = language.strip()
        if marker == "]":
            url, i = _mdv2_link_target(text, i)
            extra["url"] = url if url is not None else content
        start = out.offset
        out.emit(content)
        etype = {"_": "italic", "*": "bold", "`": "code", "```": "pre", "]": "text_link"}[marker]
        out.add_entity(etype, start, **extra)
    return out.result()


def format_text(text: str, parse_mode: str | None, entities: list[JSON] | None) -> tuple[str, list[JSON]]:
    """Apply Telegram's formatting rules: explicit entities win, else parse_mode is parsed."""
    if entities:
        return text, list(entities)
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return _parse_markdown(text)
    if mode:
        raise _bad_request(f"unsupported parse_mode {parse_mode!r}")
    return text, []


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG/JPEG/GIF/WebP image, or None when it isn't one."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return 512, 512
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker, seg_len = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + seg_len
    return None


def tiny_png(width: int = 2, height: int = 2) -> bytes:
    """A valid, minimal RGB PNG (handy for sendPhoto tests)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    raw = b"".join(b"\x00" + b"\xff\x80\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _decode_form_value(key: str, value: str) -> Any:
    if key in _TEXT_KEYS or key in _STRING_ID_KEYS:
        return value
    stripped = value.strip()
    if stripped[:1] in ("{", "["):
        try:
            decoded = json.loads(stripped)
        except ValueError:
            return value
        return decoded if isinstance(decoded, dict | list) else value
    if re.fullmatch(r"-?\d+", stripped):
        return int(stripped)
    if re.fullmatch(r"-?\d+\.\d+", stripped):
        return float(stripped)
    if value in ("true", "false"):
        return value == "true"
    return value


def _decode_json_value(key: str, value: Any) -> Any:
    if isinstance(value, str) and key not in _TEXT_KEYS and value.strip()[:1] in ("{", "["):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return decoded if isinstance(decoded, dict | list) else value
    return value


def _as_bool(value: Any, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _norm_chat_id(value: Any) -> int | str | None:
    if value is None or isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def _canonical_methods() -> list[str]:
    return [
        "getMe",
        "getUpdates",
        "deleteWebhook",
        "setWebhook",
        "getWebhookInfo",
        "setMyCommands",
        "getMyCommands",
        "deleteMyCommands",
        "sendMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "deleteMessage",
        "answerCallbackQuery",
        "sendPoll",
        "stopPoll",
        "sendPhoto",
        "sendDocument",
        "sendChatAction",
        "getFile",
        "getChat",
        "getChatMember",
        "getChatAdministrators",
        "leaveChat",
        "close",
        "logOut",
    ]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# --------------------------------------------------------------------------------------------------
# The stand-in
# --------------------------------------------------------------------------------------------------


class BotApiStandIn:
    """Telegram Bot API over HTTP on 127.0.0.1 (ephemeral port), with recording and fault injection.

    Configuration attributes (plain, mutable):

    * ``admins[chat_id]``: set of user ids that are administrators of that chat (defaultdict(set));
      put ``api.bot_id`` in it to make the bot an admin.  ``owners[chat_id] = user_id`` marks the
      creator (reported as ``ChatMemberOwner`` and listed by getChatAdministrators).
    * ``blocked_chats``: chat ids for which every send*/edit*/sendChatAction answers 403.
    * ``chats`` / ``users``: registries of known chats/users (filled by the builders and by
      ``register_chat``; unknown positive ids are private chats, negative ids groups).
    * ``messages[(chat_id, message_id)]``: every message the bot sent or that was pushed in an update.
    * ``polls[poll_id]``: polls sent with sendPoll (voter counts follow ``poll_answer`` updates).
    """

    def __init__(
        self,
        *,
        username: str = DEFAULT_BOT_USERNAME,
        bot_id: int = DEFAULT_BOT_ID,
        first_name: str = "Dojo Test Bot",
        token: str | None = None,
        parse_entities: bool = True,
        check_not_modified: bool = True,
    ) -> None:
        self.username = username
        self.bot_id = bot_id
        self.first_name = first_name
        #: when set, requests with another token get 401 Unauthorized
        self.token = token
        #: parse parse_mode text into entities (and reject malformed markup like Telegram does)
        self.parse_entities = parse_entities
        #: answer 400 "message is not modified" for no-op edits, like Telegram does
        self.check_not_modified = check_not_modified

        self.calls: list[Call] = []
        self.internal_errors: list[str] = []
        self.admins: defaultdict[int, set[int]] = defaultdict(set)
        self.owners: dict[int, int] = {}
        self.blocked_chats: set[int | str] = set()
        self.left_chats: set[int | str] = set()
        self.chats: dict[int, JSON] = {}
        self.users: dict[int, JSON] = {}
        self.messages: dict[tuple[int, int], JSON] = {}
        self.polls: dict[str, JSON] = {}
        self.poll_messages: dict[str, tuple[int, int]] = {}
        self.files: dict[str, tuple[JSON, bytes]] = {}  # file_id -> (File object, content)
        self._photo_sizes: dict[str, list[JSON]] = {}  # file_id of any size -> all sizes
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.webhook_url = ""

        self._updates: list[JSON] = []  # pending, i.e. not confirmed via offset
        self._next_update_id = 1
        self._next_message_id: defaultdict[int, int] = defaultdict(lambda: 1)
        self._failures: list[_Failure] = []
        self._callback_ids = itertools.count(4_000_000_000_000_000_001)
        self._open_callbacks: set[str] = set()
        self._poll_ids = itertools.count(5_000_000_000_000_000_001)
        self._file_ids = itertools.count(1)
        self._votes: dict[str, dict[int, list[int]]] = defaultdict(dict)
        self._update_event = asyncio.Event()
        self._call_event = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

        self._methods: dict[str, Callable[[JSON], Any]] = {}
        self._canonical: dict[str, str] = {}
        for name in _canonical_methods():
            self._methods[name.lower()] = getattr(self, f"_m_{_snake(name)}")
            self._canonical[name.lower()] = name

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> BotApiStandIn:
        if self._runner is not None:
            return self
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = int(sock.getsockname()[1])
        await web.SockSite(runner, sock).start()  # the site owns (and closes) the socket
        self._runner = runner
        self._closing.clear()
        return self

    async def stop(self) -> None:
        if self._runner is None:
            return
        self._closing.set()
        self._wake_pollers()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> BotApiStandIn:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``; PTB wants ``f"{base_url}/bot"`` and ``f"{base_url}/file/bot"``."""
        if self._port is None:
            raise RuntimeError("BotApiStandIn is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def default_token(self) -> str:
        return self.token or f"{self.bot_id}:AAStandInTokenForTests"

    def application_builder(self, token: str | None = None) -> Any:
        """A PTB ``ApplicationBuilder`` pointed at this stand-in (token, base_url, base_file_url)."""
        from telegram.ext import ApplicationBuilder

        return (
            ApplicationBuilder()
            .token(token or self.default_token)
            .base_url(f"{self.base_url}/bot")
            .base_file_url(f"{self.base_url}/file/bot")
        )

    # ---------------------------------------------------------------- identities & registries

    @property
    def bot_user(self) -> JSON:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.first_name, "username": self.username}

    def register_user(
        self,
        user_id: int,
        first_name: str = "Alice",
        username: str | None = None,
        *,
        last_name: str | None = None,
        language_code: str | None = "en",
    ) -> JSON:
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self.users[user_id] = user
        return copy.deepcopy(user)

    def register_chat(
        self,
        chat_id: int,
        chat_type: str = "private",
        *,
        title: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
        is_forum: bool | None = None,
    ) -> JSON:
        chat: JSON = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            known = self.users.get(chat_id, {})
            chat["first_name"] = first_name or known.get("first_name") or f"User{chat_id}"
            for key in ("last_name", "username"):
                if known.get(key):
                    chat[key] = known[key]
        else:
            chat["title"] = title or self.chats.get(chat_id, {}).get("title") or f"Test {chat_type} {chat_id}"
        if username:
            chat["username"] = username
        if is_forum:
            chat["is_forum"] = True
        self.chats[chat_id] = chat
        return copy.deepcopy(chat)

    def _chat(self, chat_id: Any) -> JSON:
        cid = _norm_chat_id(chat_id)
        if cid is None or cid == "":
            raise _bad_request("chat_id is empty")
        if isinstance(cid, str):
            for chat in self.chats.values():
                if chat.get("username", "").lower() == cid.lstrip("@").lower():
                    return copy.deepcopy(chat)
            raise _bad_request("chat not found")
        if cid in self.chats:
            return copy.deepcopy(self.chats[cid])
        if cid > 0:
            return self.register_chat(cid, "private")
        return self.register_chat(cid, "supergroup" if str(cid).startswith("-100") else "group")

    def _ensure_user(self, user_id: int, first_name: str, username: str | None) -> None:
        known = self.users.get(user_id)
        if known is None or known["first_name"] != first_name or (username and known.get("username") != username):
            self.register_user(user_id, first_name, username or (known or {}).get("username"))

    def _user(self, user_id: int) -> JSON:
        if user_id == self.bot_id:
            return self.bot_user
        if user_id not in self.users:
            return self.register_user(user_id, f"User{user_id}", language_code=None)
        return copy.deepcopy(self.users[user_id])

    def _new_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id[chat_id]
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _store_message(self, message: JSON) -> None:
        chat_id = message["chat"]["id"]
        message_id = message["message_id"]
        self._next_message_id[chat_id] = max(self._next_message_id[chat_id], message_id + 1)
        self.messages[(chat_id, message_id)] = copy.deepcopy(message)

    def message_for(self, chat_id: int, message_id: int) -> JSON | None:
        """The stored message, or None."""
        stored = self.messages.get((chat_id, message_id))
        return copy.deepcopy(stored) if stored else None

    def sent_messages(self, chat_id: int | None = None) -> list[JSON]:
        """Messages the bot sent (current state, i.e. after edits; deleted ones are gone)."""
        return [
            copy.deepcopy(m)
            for (cid, _), m in sorted(self.messages.items())
            if m.get("from", {}).get("id") == self.bot_id and (chat_id is None or cid == chat_id)
        ]

    def last_sent(self, chat_id: int | None = None) -> JSON | None:
        sent = sorted(self.sent_messages(chat_id), key=lambda m: (m["date"], m["message_id"]))
        return sent[-1] if sent else None

    # ---------------------------------------------------------------- update builders & injection

    def message(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Alice",
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "en",
        chat_title: str | None = None,
        entities: list[JSON] | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSON:
        """A complete ``{"message": {...}}`` update (update_id is assigned by ``push_update``).

        A leading ``/command`` or ``/command@Bot`` gets its ``bot_command`` entity automatically.
        """
        if chat_id is None:
            if chat_type != "private":
                raise ValueError("chat_id is required for non-private chats")
            chat_id = user_id
        user = self.register_user(user_id, first_name, username, last_name=last_name, language_code=language_code)
        known_chat = self.chats.get(chat_id)
        if chat_type != "private" and known_chat and known_chat["type"] == chat_type and chat_title is None:
            chat = copy.deepcopy(known_chat)  # keep what register_chat() configured (title, is_forum, ...)
        else:
            chat = self.register_chat(chat_id, chat_type, title=chat_title)
        message: JSON = {
            "message_id": self._new_message_id(chat_id),
            "from": user,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        if entities is None:
            match = _COMMAND_RE.match(text)
            entities = [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group())}] if match else []
        if entities:
            message["entities"] = entities
        if reply_to_message_id is not None:
            replied = self.message_for(chat_id, reply_to_message_id)
            if replied is not None:
                replied.pop("reply_to_message", None)
                message["reply_to_message"] = replied
        self._store_message(message)
        return {"message": message}

    def callback(
        self,
        user_id: int,
        data: str,
        message_id: int,
        chat_id: int | None = None,
        *,
        chat_type: str = "private",
        first_name: str = "Alice",
        username: str | None = None,
    ) -> JSON:
        """A ``{"callback_query": {...}}`` update for a button press on a (preferably stored) message."""
        chat_id = user_id if chat_id is None else chat_id
        self._ensure_user(user_id, first_name, username)
        if chat_id not in self.chats:
            self.register_chat(chat_id, chat_type)
        message = self.message_for(chat_id, message_id)
        if message is None:  # never an InaccessibleMessage: PTB would warn in effective_message
            message = {
                "message_id": message_id,
                "from": self.bot_user,
                "chat": self._chat(chat_id),
                "date": int(time.time()),
                "text": "(message unknown to the stand-in)",
            }
        query_id = str(next(self._callback_ids))
        self._open_callbacks.add(query_id)
        return {
            "callback_query": {
                "id": query_id,
                "from": self._user(user_id),
                "message": message,
                "chat_instance": str(abs(chat_id) * 7919 + 104729),
                "data": data,
            }
        }

    def poll_answer(
        self,
        user_id: int,
        poll_id: str,
        option_ids: Iterable[int],
        *,
        first_name: str = "Alice",
        username: str | None = None,
    ) -> JSON:
        """A ``{"poll_answer": {...}}`` update (empty ``option_ids`` = vote retracted).

        Also tallies the vote into the stored poll, so stopPoll / ``poll_state`` report counts.
        """
        option_ids = list(option_ids)
        self._ensure_user(user_id, first_name, username)
        poll = self.polls.get(poll_id)
        if poll is not None:
            self._tally(poll, user_id, option_ids)
        return {
            "poll_answer": {
                "poll_id": poll_id,
                "user": self._user(user_id),
                "option_ids": option_ids,
                "option_persistent_ids": [self._persistent_id(poll_id, i) for i in option_ids],
            }
        }

    def poll_state(self, poll_id: str) -> JSON:
        """A ``{"poll": {...}}`` update with the current state of a poll sent by the bot."""
        if poll_id not in self.polls:
            raise KeyError(f"unknown poll {poll_id!r}; known: {sorted(self.polls)}")
        return {"poll": copy.deepcopy(self.polls[poll_id])}

    def push_update(self, update: JSON) -> JSON:
        """Queue an update for getUpdates; assigns (overwrites) an increasing ``update_id``."""
        update = copy.deepcopy(update)
        update["update_id"] = self._next_update_id
        self._next_update_id += 1
        for key in ("message", "edited_message", "channel_post"):
            message = update.get(key)
            if isinstance(message, dict) and "chat" in message and "message_id" in message:
                self._store_message(message)
        self._updates.append(update)
        self._wake_pollers()
        return update

    def push_message(self, user_id: int, text: str, **kwargs: Any) -> JSON:
        return self.push_update(self.message(user_id, text, **kwargs))

    def push_callback(
        self, user_id: int, data: str, message_id: int, chat_id: int | None = None, **kwargs: Any
    ) -> JSON:
        return self.push_update(self.callback(user_id, data, message_id, chat_id, **kwargs))

    def push_poll_answer(self, user_id: int, poll_id: str, option_ids: Iterable[int], **kwargs: Any) -> JSON:
        return self.push_update(self.poll_answer(user_id, poll_id, option_ids, **kwargs))

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by a getUpdates ``offset``."""
        return copy.deepcopy(self._updates)

    async def wait_confirmed(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until every pushed update was confirmed (the poller asked for a later offset).

        PTB confirms a batch with its *next* getUpdates, i.e. right after queueing the batch for
        its handlers -- not after the handlers finished.
        """
        deadline = asyncio.get_running_loop().time() + timeout
        while self._updates:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(
                    f"{len(self._updates)} update(s) still unconfirmed after {timeout}s: "
                    f"{[u['update_id'] for u in self._updates]}; calls: {self.describe_calls()}"
                )
            event = self._call_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def _wake_pollers(self) -> None:
        event, self._update_event = self._update_event, asyncio.Event()
        event.set()

    # ---------------------------------------------------------------- recording helpers

    def calls_to(self, method: str) -> list[Call]:
        wanted = method.lower()
        return [c for c in self.calls if c.method.lower() == wanted]

    def mark(self) -> int:
        """Index to pass as ``since=`` to only consider calls made from now on."""
        return len(self.calls)

    def describe_calls(self, since: int = 0) -> str:
        parts: list[str] = []
        polls = 0
        for call in self.calls[since:]:
            if call.method == "getUpdates" and call.ok is not False:
                polls += 1
                continue
            parts.append(call.summary())
        if polls:
            parts.append(f"[getUpdates x{polls}]")
        return ", ".join(parts) or "(no calls)"

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
        count: int = 1,
        *,
        since: int = 0,
    ) -> Any:
        """Wait until ``count`` answered calls to ``method`` (matching ``predicate``) were recorded.

        Returns the first matching :class:`Call` when ``count == 1``, else a list of ``count`` calls.
        Only calls at index >= ``since`` (see :meth:`mark`) are considered.  Raises AssertionError
        listing everything that was called when the timeout expires.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        wanted = method.lower()
        while True:
            matches = [
                c
                for c in self.calls[since:]
                if c.method.lower() == wanted and c.done and (predicate is None or predicate(c))
            ]
            if len(matches) >= count:
                return matches[0] if count == 1 else matches[:count]
            remaining = deadline - loop.time()
            if remaining <= 0:
                what = f"{count} call(s) to {method}" + (" matching the predicate" if predicate else "")
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}; got {len(matches)}. "
                    f"Calls so far: {self.describe_calls(since)}"
                )
            event = self._call_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def assert_no_call(self, method: str, within: float = 0.2, *, since: int = 0) -> None:
        """Assert that no call to ``method`` arrives within ``within`` seconds (prefer sentinels)."""
        await asyncio.sleep(within)
        found = [c for c in self.calls[since:] if c.method.lower() == method.lower()]
        if found:
            raise AssertionError(f"unexpected {method}: {[c.summary() for c in found]}")

    def _notify_calls(self) -> None:
        event, self._call_event = self._call_event, asyncio.Event()
        event.set()

    # ---------------------------------------------------------------- failure injection

    def fail_next(
        self,
        method: str,
        *,
        chat_id: int | str | None = None,
        error_code: int | None = None,
        description: str | None = None,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        times: int = 1,
        predicate: Callable[[Call], bool] | None = None,
    ) -> None:
        """Make the next ``times`` calls to ``method`` (optionally only for ``chat_id``) fail.

        Defaults: 403 "Forbidden: bot was blocked by the user"; with ``retry_after`` 429
        "Too Many Requests: retry after N" + ``parameters.retry_after``; with ``migrate_to_chat_id``
        400 "Bad Request: group chat was upgraded to a supergroup chat" + ``parameters``.
        """
        parameters: JSON = {}
        if retry_after is not None:
            parameters["retry_after"] = retry_after
            error_code = error_code or 429
            description = description or f"Too Many Requests: retry after {retry_after}"
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
            error_code = error_code or 400
            description = description or "Bad Request: group chat was upgraded to a supergroup chat"
        error = ApiError(error_code or 403, description or "Forbidden: bot was blocked by the user", parameters or None)
        self._failures.append(_Failure(method.lower(), _norm_chat_id(chat_id), error, times, predicate))

    def clear_failures(self) -> None:
        self._failures.clear()

    @property
    def pending_failures(self) -> int:
        return sum(f.remaining for f in self._failures)

    def _take_failure(self, call: Call) -> ApiError | None:
        for failure in self._failures:
            if failure.method != call.method.lower():
                continue
            if failure.chat_id is not None and _norm_chat_id(call.params.get("chat_id")) != failure.chat_id:
                continue
            if failure.predicate is not None and not failure.predicate(call):
                continue
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._failures.remove(failure)
            return failure.error
        return None

    # ---------------------------------------------------------------- HTTP plumbing

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/file/bot"):
            return self._serve_file(path)
        match = re.fullmatch(r"/bot([^/]+)/([A-Za-z0-9_]+)/?", path)
        if match is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        token, method = match.groups()
        try:
            params, encoding = await self._read_params(request)
        except Exception as exc:  # malformed body
            return web.json_response(_bad_request(f"can't parse request body: {exc}").body(), status=400)
        call = Call(
            method=self._canonical.get(method.lower(), method),
            params=params,
            token=token,
            http_method=request.method,
            encoding=encoding,
        )
        self.calls.append(call)
        self._notify_calls()
        try:
            if self.token is not None and token != self.token:
                raise ApiError(401, "Unauthorized")
            failure = self._take_failure(call)
            if failure is not None:
                raise failure
            implementation = self._methods.get(method.lower())
            if implementation is None:
                raise ApiError(404, f"Not Found: method {method}")
            result = implementation(params)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as exc:
            call.ok, call.status, call.error = False, exc.error_code, exc.description
            self._notify_calls()
            return web.json_response(exc.body(), status=exc.error_code)
        except Exception as exc:  # a bug in the stand-in (or an unexpected parameter type)
            description = f"Internal Server Error: stand-in failed in {method}: {exc!r}"
            self.internal_errors.append(description)
            call.ok, call.status, call.error = False, 500, description
            self._notify_calls()
            return web.json_response({"ok": False, "error_code": 500, "description": description}, status=500)
        call.ok, call.status, call.result = True, 200, result
        self._notify_calls()
        return web.json_response({"ok": True, "result": result})

    async def _read_params(self, request: web.Request) -> tuple[JSON, str]:
        params: JSON = {key: _decode_form_value(key, value) for key, value in request.query.items()}
        encoding = "query" if params else "empty"
        if not request.body_exists:
            return params, encoding
        content_type = request.content_type
        if content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update({key: _decode_json_value(key, value) for key, value in body.items()})
            return params, "json"
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = UploadedFile(value.filename, value.content_type, value.file.read())
                else:
                    params[key] = _decode_form_value(key, str(value))
            return params, "multipart" if content_type == "multipart/form-data" else "form"
        await request.read()
        return params, encoding

    def _serve_file(self, path: str) -> web.Response:
        _, _, file_path = path.removeprefix("/file/bot").partition("/")
        for file_obj, content in self.files.values():
            if file_obj["file_path"] == file_path:
                return web.Response(body=content, content_type="application/octet-stream")
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

    # ---------------------------------------------------------------- shared validation

    def _target_chat(self, params: JSON, *, sending: bool = True) -> JSON:
        chat = self._chat(params.get("chat_id"))
        if sending and chat["id"] in self.blocked_chats:
            if chat["type"] == "private":
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat['type']} chat")
        if sending and chat["id"] in self.left_chats:
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat['type']} chat")
        return chat

    @staticmethod
    def _inline_markup(markup: Any) -> JSON | None:
        """Validate reply_markup; returns it when it's an inline keyboard (the only kind echoed back)."""
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return None  # reply keyboards / remove / force_reply are accepted but never echoed
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request('field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays')
        actions = (
            "callback_data",
            "url",
            "switch_inline_query",
            "switch_inline_query_current_chat",
            "switch_inline_query_chosen_chat",
            "web_app",
            "login_url",
            "callback_game",
            "pay",
            "copy_text",
        )
        for row in rows:
            for button in row:
                if not button.get("text"):
                    raise _bad_request("text buttons are unallowed in the inline keyboard")
                if not any(key in button for key in actions):
                    raise _bad_request("text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                    raise _bad_request("BUTTON_DATA_INVALID")
        return copy.deepcopy(markup)

    def _formatted(self, params: JSON, key: str, prefix: str = "") -> tuple[str, list[JSON]]:
        text = params.get(key)
        text = "" if text is None else str(text)
        entities = params.get(f"{key}_entities" if key != "text" else "entities")
        if not self.parse_entities:
            return text, list(entities or [])
        return format_text(text, params.get(f"{prefix}parse_mode"), entities)

    def _reply_to(self, params: JSON, chat_id: int) -> JSON | None:
        reply = params.get("reply_parameters")
        if reply is None and params.get("reply_to_message_id") is not None:
            reply = {
                "message_id": params["reply_to_message_id"],
                "allow_sending_without_reply": params.get("allow_sending_without_reply"),
            }
        if not isinstance(reply, dict) or reply.get("message_id") is None:
            return None
        reply_chat_id = chat_id if reply.get("chat_id") is None else self._chat(reply["chat_id"])["id"]
        replied = self.message_for(reply_chat_id, int(reply["message_id"]))
        if replied is None:
            if _as_bool(reply.get("allow_sending_without_reply")):
                return None
            raise _bad_request("message to be replied not found")
        replied.pop("reply_to_message", None)
        return replied

    def _new_bot_message(self, params: JSON, chat: JSON, **content: Any) -> JSON:
        message: JSON = {
            "message_id": self._new_message_id(chat["id"]),
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
        }
        if params.get("message_thread_id") is not None:
            message["message_thread_id"] = params["message_thread_id"]
        reply_to = self._reply_to(params, chat["id"])
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message.update({key: value for key, value in content.items() if value not in (None, [], "")})
        markup = self._inline_markup(params.get("reply_markup"))
        if markup is not None:
            message["reply_markup"] = markup
        self._store_message(message)
        return copy.deepcopy(message)

    def _stored_for_edit(self, params: JSON) -> JSON:
        if params.get("inline_message_id"):
            raise _bad_request("inline messages are not supported by the stand-in")
        chat = self._target_chat(params)
        message_id = params.get("message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        stored = self.messages.get((chat["id"], int(message_id)))
        if stored is None:
            raise _bad_request("message to edit not found")
        if stored.get("from", {}).get("id") != self.bot_id:
            raise _bad_request("message can't be edited")
        return stored

    def _finish_edit(self, stored: JSON, before: JSON) -> JSON:
        if self.check_not_modified and stored == before:
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        stored["edit_date"] = int(time.time())
        return copy.deepcopy(stored)

    @staticmethod
    def _set_or_drop(target: JSON, key: str, value: Any) -> None:
        if value in (None, [], ""):
            target.pop(key, None)
        else:
            target[key] = value

    def _upload(self, value: Any, kind: str) -> tuple[JSON, bytes]:
        """Register an uploaded file (or a file_id/URL string); returns (File object, content)."""
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        if value is None or value == "":
            raise _bad_request(f"there is no {kind} in the request")
        if isinstance(value, UploadedFile):
            content, filename, mime = value.data, value.filename, value.content_type
        else:  # an URL or a file_id we never issued: Telegram would fetch/resolve it
            if not str(value).startswith(("http://", "https://")):
                raise _bad_request("wrong file identifier/HTTP URL specified")
            content, filename, mime = b"", str(value).rsplit("/", 1)[-1], None
        number = next(self._file_ids)
        extension = {"photo": "jpg"}.get(kind, (filename or "file").rsplit(".", 1)[-1] if filename else "bin")
        file_obj: JSON = {
            "file_id": f"StandIn{kind.capitalize()}FileId{number:06d}",
            "file_unique_id": f"AQAD{number:06d}",
            "file_size": len(content),
            "file_path": f"{kind}s/file_{number}.{extension}",
        }
        if filename:
            file_obj["file_name"] = filename
        if mime:
            file_obj["mime_type"] = mime
        self.files[file_obj["file_id"]] = (file_obj, content)
        return file_obj, content

    # ---------------------------------------------------------------- methods: bot & updates

    def _m_get_me(self, params: JSON) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
            "has_topics_enabled": False,
            "allows_users_to_create_topics": False,
        }

    def _confirm(self, offset: Any) -> None:
        if offset is None:
            return
        offset = int(offset)
        if offset < 0:
            self._updates = self._updates[offset:]
        elif offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    async def _m_get_updates(self, params: JSON) -> list[JSON]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
                "delete the webhook first",
            )
        self._confirm(params.get("offset"))
        self._notify_calls()  # confirmation progress is observable (wait_confirmed)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._updates or self._closing.is_set():
                return copy.deepcopy(self._updates[:limit])
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            event = self._update_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def _m_set_webhook(self, params: JSON) -> bool:
        url = str(params.get("url") or "")
        if url and not url.startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook_url = url
        if _as_bool(params.get("drop_pending_updates")):
            self._updates.clear()
        return True

    def _m_delete_webhook(self, params: JSON) -> bool:
        self.webhook_url = ""
        if _as_bool(params.get("drop_pending_updates")):
            self._updates.clear()
        return True

    def _m_get_webhook_info(self, params: JSON) -> JSON:
        info: JSON = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook_url:
            info["max_connections"] = 40
        return info

    @staticmethod
    def _commands_key(params: JSON) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _m_set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request('parameter "commands" is required')
        if len(commands) > 100:
            raise _bad_request("too many commands")
        for command in commands:
            if not _BOT_COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _m_get_my_commands(self, params: JSON) -> list[JSON]:
        return copy.deepcopy(self.commands.get(self._commands_key(params), []))

    def _m_delete_my_commands(self, params: JSON) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _m_close(self, params: JSON) -> bool:
        return True

    def _m_log_out(self, params: JSON) -> bool:
        return True

    # ---------------------------------------------------------------- methods: messages

    def _m_send_message(self, params: JSON) -> JSON:
        chat = self._target_chat(params)
        text, entities = self._formatted(params, "text")
        if not text.strip():
            raise _bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT_LENGTH:
            raise _bad_request("message is too long")
        return self._new_bot_message(params, chat, text=text, entities=entities)

    def _m_edit_message_text(self, params: JSON) -> JSON:
        stored = self._stored_for_edit(params)
        if "text" not in stored:
            raise _bad_request("there is no text in the message to edit")
        text, entities = self._formatted(params, "text")
        if not text.strip():
            raise _bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT_LENGTH:
            raise _bad_request("MESSAGE_TOO_LONG")
        before = copy.deepcopy(stored)
        stored["text"] = text
        self._set_or_drop(stored, "entities", entities)
        # Like Telegram: omitting reply_markup on an edit removes the inline keyboard.
        self._set_or_drop(stored, "reply_markup", self._inline_markup(params.get("reply_markup")))
        return self._finish_edit(stored, before)

    def _m_edit_message_caption(self, params: JSON) -> JSON:
        stored = self._stored_for_edit(params)
        if not any(key in stored for key in ("photo", "document", "video", "animation", "audio")):
            raise _bad_request("there is no caption in the message to edit")
        caption, entities = self._formatted(params, "caption")
        if utf16_len(caption) > MAX_CAPTION_LENGTH:
            raise _bad_request("message caption is too long")
        before = copy.deepcopy(stored)
        self._set_or_drop(stored, "caption", caption)
        self._set_or_drop(stored, "caption_entities", entities)
        self._set_or_drop(stored, "reply_markup", self._inline_markup(params.get("reply_markup")))
        return self._finish_edit(stored, before)

    def _m_edit_message_reply_markup(self, params: JSON) -> JSON:
        stored = self._stored_for_edit(params)
        before = copy.deepcopy(stored)
        self._set_or_drop(stored, "reply_markup", self._inline_markup(params.get("reply_markup")))
        return self._finish_edit(stored, before)

    def _m_delete_message(self, params: JSON) -> bool:
        chat = self._target_chat(params, sending=False)
        key = (chat["id"], int(params.get("message_id") or 0))
        if key not in self.messages:
            raise _bad_request("message to delete not found")
        del self.messages[key]
        return True

    def _m_answer_callback_query(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._open_callbacks:
            raise _bad_request("query is too old and response timeout expired or query ID is invalid")
        if len(str(params.get("text") or "")) > MAX_ANSWER_CALLBACK_TEXT:
            raise _bad_request("MESSAGE_TOO_LONG")
        self._open_callbacks.discard(query_id)
        return True

    def _m_send_chat_action(self, params: JSON) -> bool:
        self._target_chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    # ---------------------------------------------------------------- methods: media

    def _caption(self, params: JSON) -> tuple[str, list[JSON]]:
        caption, entities = self._formatted(params, "caption")
        if utf16_len(caption) > MAX_CAPTION_LENGTH:
            raise _bad_request("message caption is too long")
        return caption, entities

    def _m_send_photo(self, params: JSON) -> JSON:
        chat = self._target_chat(params)
        caption, entities = self._caption(params)
        photo = params.get("photo")
        if isinstance(photo, str) and photo in self._photo_sizes:
            sizes = self._photo_sizes[photo]
        else:
            size = _image_size(photo.data) if isinstance(photo, UploadedFile) else (800, 600)
            if size is None:
                raise _bad_request("IMAGE_PROCESS_FAILED")
            file_obj, content = self._upload(photo, "photo")
            width, height = size
            sizes = []
            if max(width, height) > 90:  # Telegram adds a thumbnail-sized variant first
                scale = 90 / max(width, height)
                thumb, _ = self._upload(UploadedFile("thumb.jpg", "image/jpeg", content[:1024]), "photo")
                sizes.append(
                    {
                        "file_id": thumb["file_id"],
                        "file_unique_id": thumb["file_unique_id"],
                        "file_size": thumb["file_size"],
                        "width": max(1, round(width * scale)),
                        "height": max(1, round(height * scale)),
                    }
                )
            sizes.append(
                {
                    "file_id": file_obj["file_id"],
                    "file_unique_id": file_obj["file_unique_id"],
                    "file_size": len(content),
                    "width": width,
                    "height": height,
                }
            )
            for size_obj in sizes:
                self._photo_sizes[size_obj["file_id"]] = sizes
        return self._new_bot_message(
            params, chat, photo=copy.deepcopy(sizes), caption=caption, caption_entities=entities
        )

    def _m_send_document(self, params: JSON) -> JSON:
        chat = self._target_chat(params)
        caption, entities = self._caption(params)
        file_obj, _ = self._upload(params.get("document"), "document")
        document = {
            key: file_obj[key]
            for key in ("file_id", "file_unique_id", "file_name", "mime_type", "file_size")
            if key in file_obj
        }
        return self._new_bot_message(params, chat, document=document, caption=caption, caption_entities=entities)

    def _m_get_file(self, params: JSON) -> JSON:
        file_id = str(params.get("file_id") or "")
        if file_id not in self.files:
            raise _bad_request("invalid file_id")
        file_obj = self.files[file_id][0]
        return {key: file_obj[key] for key in ("file_id", "file_unique_id", "file_size", "file_path")}

    # ---------------------------------------------------------------- methods: polls

    @staticmethod
    def _persistent_id(poll_id: str, index: int) -> str:
        return f"{poll_id}-opt{index}"

    def _poll_options(self, params: JSON, poll_id: str) -> list[JSON]:
        raw = params.get("options")
        if not isinstance(raw, list):
            raise _bad_request("options must be an Array")
        if not POLL_OPTION_NUMBER[0] <= len(raw) <= POLL_OPTION_NUMBER[1]:
            raise _bad_request("POLL_OPTIONS_COUNT_INVALID" if raw else "poll must have at least 1 option")
        options = []
        for index, item in enumerate(raw):
            text = item.get("text") if isinstance(item, dict) else item
            text = str(text or "")
            if not POLL_OPTION_LENGTH[0] <= utf16_len(text) <= POLL_OPTION_LENGTH[1]:
                raise _bad_request("POLL_OPTION_INVALID")
            option: JSON = {"text": text, "voter_count": 0, "persistent_id": self._persistent_id(poll_id, index)}
            if isinstance(item, dict) and item.get("text_entities"):
                option["text_entities"] = item["text_entities"]
            options.append(option)
        return options

    def _m_send_poll(self, params: JSON) -> JSON:
        chat = self._target_chat(params)
        poll_id = str(next(self._poll_ids))
        question, question_entities = self._formatted(params, "question", "question_")
        if not POLL_QUESTION_LENGTH[0] <= utf16_len(question) <= POLL_QUESTION_LENGTH[1]:
            raise _bad_request("POLL_QUESTION_INVALID")
        options = self._poll_options(params, poll_id)
        poll_type = params.get("type") or "regular"
        if poll_type not in ("regular", "quiz"):
            raise _bad_request("wrong poll type specified")
        multiple = _as_bool(params.get("allows_multiple_answers"))
        poll: JSON = {
            "id": poll_id,
            "question": question,
            "options": options,
            "total_voter_count": 0,
            "is_closed": _as_bool(params.get("is_closed")),
            "is_anonymous": _as_bool(params.get("is_anonymous"), default=True),
            "type": poll_type,
            "allows_multiple_answers": multiple,
            "allows_revoting": _as_bool(params.get("allows_revoting"), default=poll_type != "quiz"),
            "members_only": _as_bool(params.get("members_only")),
        }
        if question_entities:
            poll["question_entities"] = question_entities
        if poll_type == "quiz":
            poll.update(self._quiz_fields(params, len(options), multiple))
        for key in ("open_period", "close_date", "description", "description_entities", "country_codes"):
            if params.get(key) not in (None, "", []):
                poll[key] = params[key]
        message = self._new_bot_message(params, chat, poll=poll)
        self.polls[poll_id] = copy.deepcopy(poll)
        self.poll_messages[poll_id] = (chat["id"], message["message_id"])
        return message

    def _quiz_fields(self, params: JSON, n_options: int, multiple: bool) -> JSON:
        correct = params.get("correct_option_ids")
        if correct is None and params.get("correct_option_id") is not None:  # pre-9.6 clients
            correct = [params["correct_option_id"]]
        if isinstance(correct, int):
            correct = [correct]
        if not correct:
            raise _bad_request("quiz poll must have a correct option")
        if not all(isinstance(i, int) and 0 <= i < n_options for i in correct):
            raise _bad_request("wrong correct option ID specified")
        if len(correct) > 1 and not multiple:
            raise _bad_request("quiz poll must have exactly one correct option")
        # Never return the removed `correct_option_id`: PTB 22.8 emits a PTBDeprecationWarning for it.
        fields: JSON = {"correct_option_ids": sorted(set(correct))}
        explanation, explanation_entities = self._formatted(params, "explanation", "explanation_")
        if utf16_len(explanation) > POLL_EXPLANATION_LENGTH:
            raise _bad_request("explanation is too long")
        if explanation:
            fields["explanation"] = explanation
        if explanation_entities:
            fields["explanation_entities"] = explanation_entities
        return fields

    def _tally(self, poll: JSON, user_id: int, option_ids: list[int]) -> None:
        votes = self._votes[poll["id"]]
        if option_ids:
            votes[user_id] = option_ids
        else:
            votes.pop(user_id, None)
        for index, option in enumerate(poll["options"]):
            option["voter_count"] = sum(index in chosen for chosen in votes.values())
        poll["total_voter_count"] = len(votes)
        self._sync_poll_message(poll)

    def _sync_poll_message(self, poll: JSON) -> None:
        key = self.poll_messages.get(poll["id"])
        if key is not None and key in self.messages:
            self.messages[key]["poll"] = copy.deepcopy(poll)

    def _m_stop_poll(self, params: JSON) -> JSON:
        chat = self._target_chat(params)
        stored = self.messages.get((chat["id"], int(params.get("message_id") or 0)))
        if stored is None or "poll" not in stored:
            raise _bad_request("message with poll to stop not found")
        poll = self.polls.get(stored["poll"]["id"])
        if poll is None or stored.get("from", {}).get("id") != self.bot_id:
            raise _bad_request("poll can't be stopped")
        if poll["is_closed"]:
            raise _bad_request("poll has already been closed")
        poll["is_closed"] = True
        self._sync_poll_message(poll)
        self._set_or_drop(stored, "reply_markup", self._inline_markup(params.get("reply_markup")))
        return copy.deepcopy(poll)

    # ---------------------------------------------------------------- methods: chats & members

    def _m_get_chat(self, params: JSON) -> JSON:
        chat = self._chat(params.get("chat_id"))
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _member(self, chat: JSON, user_id: int) -> JSON:
        user = self._user(user_id)
        chat_id = chat["id"]
        if chat["type"] != "private" and self.owners.get(chat_id) == user_id:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if chat["type"] != "private" and user_id in self.admins.get(chat_id, set()):
            return {
                "status": "administrator",
                "user": user,
                "can_be_edited": user_id == self.bot_id,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": True,
                "can_restrict_members": True,
                "can_promote_members": False,
                "can_change_info": True,
                "can_invite_users": True,
                "can_post_stories": True,
                "can_edit_stories": True,
                "can_delete_stories": True,
                "can_pin_messages": True,
                "can_manage_topics": bool(chat.get("is_forum")),
            }
        return {"status": "member", "user": user}

    def _m_get_chat_member(self, params: JSON) -> JSON:
        chat = self._chat(params.get("chat_id"))
        if params.get("user_id") is None:
            raise _bad_request("user_id is empty")
        user_id = int(params["user_id"])
        if chat["type"] == "private" and user_id not in (chat["id"], self.bot_id):
            raise _bad_request("user not found")
        return self._member(chat, user_id)

    def _m_get_chat_administrators(self, params: JSON) -> list[JSON]:
        chat = self._chat(params.get("chat_id"))
        if chat["type"] == "private":
            raise _bad_request("there are no administrators in the private chat")
        ids: list[int] = []
        if chat["id"] in self.owners:
            ids.append(self.owners[chat["id"]])
        ids += sorted(uid for uid in self.admins.get(chat["id"], set()) if uid not in ids)
        return [self._member(chat, uid) for uid in ids]

    def _m_leave_chat(self, params: JSON) -> bool:
        chat = self._chat(params.get("chat_id"))
        if chat["type"] == "private":
            raise _bad_request("chat member status can't be changed in private chats")
        self.left_chats.add(chat["id"])
        return True
