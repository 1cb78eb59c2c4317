"""Offline harness for discord.py 2.7 application commands, components and DMs.

It drives the *real* discord.py machinery: gateway ``INTERACTION_CREATE`` payloads are fed to
``ConnectionState.parse_interaction_create`` (the exact seam the websocket uses), which builds real
``discord.Interaction`` objects and hands them to the client's ``CommandTree`` (types 2 and 4) or to
the view store (type 3).  Nothing talks to Discord:

* interaction traffic (callbacks, followups, edits of ``@original``) is captured by replacing the
  webhook adapter in ``discord.webhook.async_.async_context`` with :class:`_RecordingWebhookAdapter`;
* REST traffic (DMs, channel sends, message edits, ``tree.sync()``) is captured by shadowing
  ``client.http.request`` with a router; an unknown route raises :class:`UnmockedRouteError`.

Typical use::

    async with DiscordHarness.attach(client, tree) as h:
        await h.run_command(h.slash(["margin", "add"], {"amount": 5.0}, user_id=1))
        assert h.last.ephemeral
        await h.press(h.button("dojo:reset", user_id=1))
        h.fail_dm(42)  # DMs to user 42 now raise discord.Forbidden(status 403, code 50007)
"""

from __future__ import annotations

import asyncio
import copy
import enum
import itertools
import json
import logging
import re
import warnings
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

with warnings.catch_warnings():
    # discord.player imports the stdlib ``audioop`` (deprecated in 3.11, gone in 3.13); with
    # ``filterwarnings = error`` that import would fail at collection time.  Import this module
    # before ``discord`` (or add an ignore for it to pytest's filterwarnings).
    warnings.filterwarnings("ignore", message="'audioop' is deprecated", category=DeprecationWarning)
    import discord
    from discord import app_commands
    from discord.webhook.async_ import AsyncWebhookAdapter, async_context

__all__ = [
    "APPLICATION_ID",
    "BOT_USER_ID",
    "DEFAULT_CHANNEL_ID",
    "DEFAULT_GUILD_ID",
    "DiscordHarness",
    "HarnessError",
    "Response",
    "SentMessage",
    "UnmockedRouteError",
]

APPLICATION_ID = 1_100_000_000_000_000_001
BOT_USER_ID = 1_100_000_000_000_000_001  # a bot user's id equals its application id
DEFAULT_GUILD_ID = 1_200_000_000_000_000_001
DEFAULT_CHANNEL_ID = 1_300_000_000_000_000_001
DEFAULT_DM_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    read_message_history=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
    use_application_commands=True,
)
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
EPHEMERAL = 1 << 6
LOADING = 1 << 7

_PY_TYPE_TO_OPTION = {bool: 5, int: 4, float: 10, str: 3}


class HarnessError(AssertionError):
    """Raised (strict mode) when discord.py swallowed an exception while handling an interaction."""

    def __init__(self, message: str, errors: Sequence[BaseException]) -> None:
        super().__init__(message)
        self.errors = list(errors)


class UnmockedRouteError(AssertionError):
    """The code under test called a Discord REST route the harness does not emulate."""


class _FakeHTTPResponse:
    """Just enough of ``aiohttp.ClientResponse`` for ``discord.HTTPException.__init__``."""

    def __init__(self, status: int, reason: str, url: str = "") -> None:
        self.status = status
        self.reason = reason
        self.url = url
        self.headers: dict[str, str] = {}


_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Server Error",
}


def http_error(status: int, code: int, message: str, url: str = "") -> discord.HTTPException:
    """Build the exception discord.py itself raises for an API error response."""
    response = _FakeHTTPResponse(status, _REASONS.get(status, "Error"), url)
    body = {"code": code, "message": message}
    if status == 403:
        return discord.Forbidden(response, body)  # type: ignore[arg-type]
    if status == 404:
        return discord.NotFound(response, body)  # type: ignore[arg-type]
    if status >= 500:
        return discord.DiscordServerError(response, body)  # type: ignore[arg-type]
    return discord.HTTPException(response, body)  # type: ignore[arg-type]


@dataclass
class Response:
    """One piece of interaction traffic recorded at the webhook adapter.

    ``kind`` is one of ``callback`` (POST /interactions/{id}/{token}/callback), ``followup``
    (execute_webhook), ``edit_original``, ``edit_message`` (followup edit), ``delete_original``,
    ``delete_message``.  ``type`` is the interaction callback type for callbacks (4 message,
    5 deferred, 6 deferred update, 7 update message, 8 autocomplete, 9 modal), else ``None``.
    For message-bearing entries (4, 7, followups, edits) the content/embeds/components/flags are
    those of the resulting message (edits are merged); ``payload`` is the raw JSON that was sent.
    """

    kind: str
    type: int | None
    interaction_id: int | None
    message_id: int | None
    content: str | None = None
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    files: list[tuple[str, bytes]] = field(default_factory=list)
    choices: list[dict[str, Any]] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def embed(self) -> dict[str, Any] | None:
        return self.embeds[0] if self.embeds else None

    @property
    def custom_ids(self) -> list[str]:
        """Every ``custom_id`` in the (possibly nested) components, in order."""
        return _custom_ids(self.components)

    @property
    def text(self) -> str:
        """Content plus embed titles/descriptions/fields, for loose ``in`` assertions."""
        return _flatten_text(self.content, self.embeds)


@dataclass
class SentMessage:
    """A REST message send/edit: a DM (``user_id`` set) or a channel message (``user_id`` None)."""

    kind: str  # "send" | "edit" | "delete"
    channel_id: int
    user_id: int | None
    message_id: int
    content: str | None = None
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    files: list[tuple[str, bytes]] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def embed(self) -> dict[str, Any] | None:
        return self.embeds[0] if self.embeds else None

    @property
    def custom_ids(self) -> list[str]:
        return _custom_ids(self.components)

    @property
    def text(self) -> str:
        return _flatten_text(self.content, self.embeds)


@dataclass
class FailedSend:
    channel_id: int
    user_id: int | None
    error: discord.HTTPException
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class HttpCall:
    method: str
    path: str
    url: str
    json: Any = None


def _custom_ids(components: Sequence[Mapping[str, Any]]) -> list[str]:
    out: list[str] = []
    for comp in components:
        if "custom_id" in comp:
            out.append(comp["custom_id"])
        out.extend(_custom_ids(comp.get("components", [])))
        if isinstance(comp.get("accessory"), Mapping):
            out.extend(_custom_ids([comp["accessory"]]))
    return out


def _flatten_text(content: str | None, embeds: Sequence[Mapping[str, Any]]) -> str:
    parts = [content or ""]
    for e in embeds:
        parts += [e.get("title", ""), e.get("description", "")]
        for f in e.get("fields", []):
            parts += [f.get("name", ""), f.get("value", "")]
        parts.append(e.get("footer", {}).get("text", ""))
    return "\n".join(p for p in parts if p)


def _read_files(files: Sequence[discord.File] | None) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for f in files or ():
        f.reset()
        data = f.fp.read()
        f.reset()
        out.append((f.filename, bytes(data)))
    return out


def _body(payload: Any, multipart: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    if payload is not None:
        return copy.deepcopy(payload)
    for part in multipart or ():
        if part.get("name") == "payload_json":
            return json.loads(part["value"])
    return {}


def _stable_id(name: str) -> int:
    return 1_400_000_000_000_000_000 + zlib.crc32(name.encode())


def _iso_now() -> str:
    return datetime.now(UTC).isoformat()


def _jsonable(value: Any) -> Any:
    if isinstance(value, app_commands.Choice):
        return value.value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, discord.abc.Snowflake):
        return str(value.id)
    return value


class _RecordingWebhookAdapter(AsyncWebhookAdapter):
    """Replaces the aiohttp-backed adapter; every helper method funnels into ``request``."""

    def __init__(self, harness: DiscordHarness) -> None:
        super().__init__()
        self._harness = harness

    async def request(self, route: Any, session: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        return await self._harness._on_webhook_request(route, **kwargs)


class _ErrorCollector(logging.Handler):
    """discord.py logs (and swallows) exceptions from commands, views and events: collect them."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.errors: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.errors.append(record.exc_info[1])
        else:
            self.errors.append(RuntimeError(record.getMessage()))


class DiscordHarness:
    """Owns (or attaches to) a real ``discord.Client`` + ``CommandTree`` prepared for offline use."""

    def __init__(
        self,
        client: discord.Client | None = None,
        tree: app_commands.CommandTree[Any] | None = None,
        *,
        strict: bool = True,
        timeout: float = 5.0,
        run_setup_hook: bool = False,
    ) -> None:
        self._owns_client = client is None
        self.client: discord.Client = client or discord.Client(intents=discord.Intents.default())
        state_tree = self.client._connection._command_tree
        if tree is None:
            tree = state_tree or app_commands.CommandTree(self.client)
        elif state_tree is not tree:
            raise ValueError("tree is not the CommandTree registered on this client (CommandTree(client))")
        self.tree: app_commands.CommandTree[Any] = tree
        self.strict = strict
        self.timeout = timeout
        self.run_setup_hook = run_setup_hook

        self.responses: list[Response] = []
        self.dms: list[SentMessage] = []
        self.channel_messages: list[SentMessage] = []
        self.message_edits: list[SentMessage] = []
        self.failed_sends: list[FailedSend] = []
        self.http_calls: list[HttpCall] = []
        self.unmocked_routes: list[str] = []  # also kept if the code under test swallowed the error
        self.synced_commands: dict[int | None, list[dict[str, Any]]] = {}
        self.interactions: list[discord.Interaction[Any]] = []
        self.errors: list[BaseException] = []
        # message id -> current message payload (as Discord would return it)
        self.messages: dict[int, dict[str, Any]] = {}

        self._ids = itertools.count(1)
        self._payloads: dict[int, dict[str, Any]] = {}  # interaction id -> dispatched payload
        self._original: dict[str, int] = {}  # interaction token -> @original message id
        self._dm_channels: dict[int, int] = {}  # user id -> dm channel id
        self._dm_users: dict[int, int] = {}  # dm channel id -> user id
        self._users: dict[int, dict[str, Any]] = {}
        self._dm_failures: dict[int, tuple[int, int, str, str]] = {}
        self._channel_failures: dict[int, tuple[int, int, str]] = {}
        self._interaction_failures: list[tuple[int, int, str]] = []
        self._adapter = _RecordingWebhookAdapter(self)
        self._collector = _ErrorCollector()
        self._context_token: Any = None
        self._previous_adapter: AsyncWebhookAdapter | None = None
        self._orig_dispatch: Any = None
        self._started = False
        self._dispatch_mark: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def attach(
        cls, client: discord.Client, tree: app_commands.CommandTree[Any] | None = None, **kwargs: Any
    ) -> DiscordHarness:
        """Wrap an existing (production-built) client and its tree. The client is not closed on exit."""
        return cls(client, tree, **kwargs)

    async def __aenter__(self) -> DiscordHarness:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        if self._started:
            return
        client = self.client
        state = client._connection
        if client.loop is not asyncio.get_running_loop():  # unset (sentinel) or from an older test loop
            await client._async_setup_hook()  # binds client/http/state to the running loop, no I/O
        if state.application_id is None:
            state.application_id = APPLICATION_ID
        if state.user is None:
            state.user = discord.ClientUser(state=state, data=self._bot_user_payload())  # type: ignore[arg-type]
        client.http.request = self._on_http_request  # type: ignore[method-assign]
        self._orig_dispatch = state.dispatch
        state.dispatch = self._state_dispatch
        self._previous_adapter = async_context.get()
        self._context_token = async_context.set(self._adapter)
        logging.getLogger("discord").addHandler(self._collector)
        self._started = True
        if self.run_setup_hook:
            try:
                await client.setup_hook()
            except BaseException:
                await self.close()
                raise
        ready = getattr(client, "_ready", None)
        if isinstance(ready, asyncio.Event):
            ready.set()

    async def close(self) -> None:
        if not self._started:
            return
        self._started = False
        store = self.client._connection._view_store
        views = {id(i.view): i.view for items in store._views.values() for i in items.values() if i.view}
        views.update({id(v): v for v in store._synced_message_views.values()})
        for view in views.values():
            if view.timeout is not None and not view.is_finished():
                view.stop()  # cancels its timeout task so nothing outlives the event loop
        logging.getLogger("discord").removeHandler(self._collector)
        try:
            async_context.reset(self._context_token)
        except ValueError:  # closed from another context (e.g. fixture teardown)
            async_context.set(self._previous_adapter or AsyncWebhookAdapter())
        self.client._connection.dispatch = self._orig_dispatch
        self.client.http.__dict__.pop("request", None)
        if self._owns_client:
            await self.client.close()

    # ------------------------------------------------------------------ ids / users

    def new_id(self) -> int:
        """A fresh snowflake with a realistic timestamp (``Interaction.created_at`` works)."""
        return discord.utils.time_snowflake(discord.utils.utcnow()) + next(self._ids) % 4096

    def register_user(self, user_id: int, username: str, *, global_name: str | None = None) -> None:
        self._users[user_id] = {
            "id": str(user_id),
            "username": username,
            "discriminator": "0",
            "global_name": global_name,
            "avatar": None,
            "public_flags": 0,
            "bot": False,
        }

    def user_payload(self, user_id: int, username: str | None = None) -> dict[str, Any]:
        if username is not None or user_id not in self._users:
            self.register_user(user_id, username or f"user{user_id}")
        return dict(self._users[user_id])

    def _bot_user_payload(self) -> dict[str, Any]:
        state = self.client._connection
        if state.user is not None:
            return {
                "id": str(state.user.id),
                "username": state.user.name,
                "discriminator": "0",
                "avatar": None,
                "bot": True,
            }
        return {
            "id": str(state.application_id or BOT_USER_ID),
            "username": "MarginDojo",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
            "verified": True,
            "mfa_enabled": False,
            "flags": 0,
        }

    def dm_channel_id(self, user_id: int) -> int:
        if user_id not in self._dm_channels:
            cid = _stable_id(f"dm:{user_id}") + 1_000_000
            self._dm_channels[user_id] = cid
            self._dm_users[cid] = user_id
        return self._dm_channels[user_id]

    # ------------------------------------------------------------------ payload builders

    def _envelope(
        self,
        itype: int,
        data: dict[str, Any],
        *,
        user_id: int,
        guild_id: int | None,
        channel_id: int | None,
        username: str | None,
        permissions: str | int | discord.Permissions | None,
        locale: str,
        app_permissions: str | int | discord.Permissions | None,
    ) -> dict[str, Any]:
        iid = self.new_id()
        user = self.user_payload(user_id, username)
        if channel_id is None:
            channel_id = DEFAULT_CHANNEL_ID if guild_id is not None else self.dm_channel_id(user_id)
        perms = _perm_str(permissions, DEFAULT_DM_PERMISSIONS)
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.client._connection.application_id),
            "type": itype,
            "data": data,
            "token": f"harness-token-{iid}",
            "version": 1,
            "locale": locale,
            "app_permissions": _perm_str(app_permissions, discord.Permissions.text()),
            "entitlements": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "channel_id": str(channel_id),
        }
        if guild_id is not None:
            payload.update(
                guild_id=str(guild_id),
                guild_locale="en-US",
                guild={"id": str(guild_id), "locale": "en-US", "features": []},
                channel={
                    "id": str(channel_id),
                    "type": 0,
                    "guild_id": str(guild_id),
                    "name": "trading-floor",
                    "position": 0,
                    "parent_id": None,
                    "topic": None,
                    "nsfw": False,
                    "permission_overwrites": [],
                    "rate_limit_per_user": 0,
                    "last_message_id": None,
                    "flags": 0,
                    "permissions": perms,
                },
                member={
                    "user": user,
                    "roles": [],
                    "joined_at": "2024-01-01T00:00:00+00:00",
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                    "pending": False,
                    "nick": None,
                    "avatar": None,
                    "premium_since": None,
                    "communication_disabled_until": None,
                    "permissions": perms,
                },
                authorizing_integration_owners={"0": str(guild_id)},
                context=0,
            )
        else:
            self._dm_users.setdefault(channel_id, user_id)
            self._dm_channels.setdefault(user_id, channel_id)
            payload.update(
                user=user,
                channel={
                    "id": str(channel_id),
                    "type": 1,
                    "last_message_id": None,
                    "flags": 0,
                    "recipients": [user],
                },
                authorizing_integration_owners={"1": str(user_id)},
                context=1,
            )
        return payload

    def _find_command(self, path: Sequence[str], guild_id: int | None) -> tuple[Any, bool]:
        """Return (command-or-None, is_guild_command) for a slash path such as ["margin", "add"]."""
        root = None
        guild_cmd = False
        if guild_id is not None:
            root = self.tree.get_command(path[0], guild=discord.Object(guild_id))
            guild_cmd = root is not None
        if root is None:
            root = self.tree.get_command(path[0])
        cmd = root
        for part in path[1:]:
            cmd = cmd.get_command(part) if isinstance(cmd, app_commands.Group) else None
        return cmd, guild_cmd

    def _build_options(
        self,
        cmd: Any,
        options: Mapping[str, Any],
        option_types: Mapping[str, int],
        guild_id: int | None,
        focused: str | None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        params = {p.display_name: p for p in cmd.parameters} if isinstance(cmd, app_commands.Command) else {}
        out: list[dict[str, Any]] = []
        resolved: dict[str, Any] = {}
        for name, raw in options.items():
            if name in option_types:
                otype = int(option_types[name])
            elif name in params:
                otype = params[name].type.value
            elif cmd is None:
                otype = _PY_TYPE_TO_OPTION.get(type(_jsonable(raw)), 3)
            else:
                known = ", ".join(params) or "none"
                raise ValueError(
                    f"/{cmd.qualified_name} has no option {name!r} (known: {known}); "
                    "pass option_types={name: type} to forge one"
                )
            value = _jsonable(raw)
            if otype in (6, 9) and name != focused:
                self._resolve_user(int(value), guild_id, resolved)
                value = str(value)
            elif otype in (7, 8, 11):
                value = str(value)
            opt: dict[str, Any] = {"name": name, "type": otype, "value": value}
            if name == focused:
                opt["focused"] = True
            out.append(opt)
        if focused is not None and focused not in options:
            otype = option_types.get(focused) or (params[focused].type.value if focused in params else 3)
            out.append({"name": focused, "type": int(otype), "value": "", "focused": True})
        return out, resolved

    def _resolve_user(self, user_id: int, guild_id: int | None, resolved: dict[str, Any]) -> None:
        resolved.setdefault("users", {})[str(user_id)] = self.user_payload(user_id)
        if guild_id is not None:
            resolved.setdefault("members", {})[str(user_id)] = {
                "roles": [],
                "joined_at": "2024-01-01T00:00:00+00:00",
                "flags": 0,
                "permissions": _perm_str(None, DEFAULT_DM_PERMISSIONS),
            }

    def _command_data(
        self,
        name: str | Sequence[str],
        options: Mapping[str, Any] | None,
        option_types: Mapping[str, int] | None,
        guild_id: int | None,
        focused: str | None = None,
    ) -> dict[str, Any]:
        path = name.split() if isinstance(name, str) else list(name)
        if not 1 <= len(path) <= 3:
            raise ValueError(f"slash path must have 1-3 parts, got {path!r}")
        cmd, guild_cmd = self._find_command(path, guild_id)
        leaf, resolved = self._build_options(cmd, options or {}, option_types or {}, guild_id, focused)
        if len(path) == 3:
            leaf = [{"type": 2, "name": path[1], "options": [{"type": 1, "name": path[2], "options": leaf}]}]
        elif len(path) == 2:
            leaf = [{"type": 1, "name": path[1], "options": leaf}]
        data: dict[str, Any] = {"id": str(_stable_id(path[0])), "name": path[0], "type": 1, "options": leaf}
        if resolved:
            data["resolved"] = resolved
        if guild_cmd:
            data["guild_id"] = str(guild_id)
        return data

    def slash(
        self,
        name: str | Sequence[str],
        options: Mapping[str, Any] | None = None,
        *,
        user_id: int,
        guild_id: int | None = None,
        channel_id: int | None = None,
        username: str | None = "alice",
        permissions: str | int | discord.Permissions | None = None,
        option_types: Mapping[str, int] | None = None,
        locale: str = "en-US",
        app_permissions: str | int | discord.Permissions | None = None,
    ) -> dict[str, Any]:
        """APPLICATION_COMMAND (type 2) payload. ``name`` is "cmd", "group sub" or ["group", "sub"].

        Option types come from the registered command's parameters (so a ``float`` param is sent as
        type 10 even if you pass ``5``); ``option_types`` overrides/forges them. ``guild_id=None``
        means the command is used in the bot's DM (``user`` instead of ``member``).
        """
        data = self._command_data(name, options, option_types, guild_id)
        return self._envelope(
            2,
            data,
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            username=username,
            permissions=permissions,
            locale=locale,
            app_permissions=app_permissions,
        )

    def autocomplete(
        self,
        name: str | Sequence[str] | Mapping[str, Any],
        options: Mapping[str, Any] | None = None,
        *,
        focused: str = "",
        user_id: int = 0,
        guild_id: int | None = None,
        channel_id: int | None = None,
        username: str | None = "alice",
        permissions: str | int | discord.Permissions | None = None,
        option_types: Mapping[str, int] | None = None,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """Build an APPLICATION_COMMAND_AUTOCOMPLETE (type 4) payload, or run one.

        ``h.autocomplete("cmd", {"symbol": "BT"}, focused="symbol", user_id=1)`` returns the payload
        (``options[focused]`` is the partial text typed); ``await h.autocomplete(payload)`` dispatches
        it and returns the ``choices`` list (same as :meth:`complete`).
        """
        if isinstance(name, Mapping):
            return self.complete(name)  # type: ignore[return-value]
        if not focused or not user_id:
            raise TypeError("autocomplete() payload builder needs focused= and user_id=")
        data = self._command_data(name, options, option_types, guild_id, focused=focused)
        return self._envelope(
            4,
            data,
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            username=username,
            permissions=permissions,
            locale=locale,
            app_permissions=None,
        )

    def button(
        self,
        custom_id: str,
        *,
        user_id: int,
        message_id: int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        username: str | None = "alice",
        permissions: str | int | discord.Permissions | None = None,
        component_type: int = 2,
        values: Sequence[str] | None = None,
        message: Mapping[str, Any] | None = None,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """MESSAGE_COMPONENT (type 3) payload for a button (or a select with ``component_type=3, values``).

        ``message_id`` defaults to a fresh id (fine for persistent views registered with
        ``client.add_view(view)``); pass a recorded ``Response.message_id`` to press a button on a
        message the bot sent, in which case that message's recorded payload is used.
        """
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        if message_id is None:
            message_id = self.new_id()
        stored = self.messages.get(message_id)
        if channel_id is None and stored is not None:
            channel_id = int(stored["channel_id"])
        payload = self._envelope(
            3,
            data,
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            username=username,
            permissions=permissions,
            locale=locale,
            app_permissions=None,
        )
        msg = copy.deepcopy(dict(message)) if message is not None else copy.deepcopy(stored)
        if msg is None:
            msg = self._message_payload(message_id, int(payload["channel_id"]), {}, mtype=0)
        msg.setdefault("id", str(message_id))
        msg["channel_id"] = payload["channel_id"]
        payload["message"] = msg
        return payload

    def select(self, custom_id: str, values: Sequence[str], **kwargs: Any) -> dict[str, Any]:
        return self.button(custom_id, component_type=3, values=values, **kwargs)

    # ------------------------------------------------------------------ dispatch

    def _state_dispatch(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "interaction" and args:
            self.interactions.append(args[0])
        return self._orig_dispatch(event, *args, **kwargs)

    @property
    def last_interaction(self) -> discord.Interaction[Any] | None:
        return self.interactions[-1] if self.interactions else None

    async def dispatch(self, payload: Mapping[str, Any], *, strict: bool | None = None) -> list[Response]:
        """Feed an INTERACTION_CREATE payload through ``ConnectionState.parse_interaction_create``.

        Awaits every task that parse spawned (tree invoker, view item callback, on_interaction
        listeners); returns the interaction responses recorded meanwhile. In strict mode, an
        exception that discord.py logged-and-swallowed is re-raised as :class:`HarnessError`.
        """
        if not self._started:
            await self.start()
        data = json.loads(json.dumps(payload))  # what the gateway would hand over: plain JSON
        self._payloads[int(data["id"])] = data
        if data["type"] == 3:
            self._original.setdefault(data["token"], int(data["message"]["id"]))
            self._remember_message(data["message"])
        first_response = len(self.responses)
        first_error = len(self._collector.errors)
        first_unmocked = len(self.unmocked_routes)
        current = asyncio.current_task()
        before = asyncio.all_tasks()
        token = async_context.set(self._adapter)  # tasks copy the context when they are created
        try:
            self.client._connection.parse_interaction_create(data)  # type: ignore[arg-type]
        finally:
            async_context.reset(token)
        spawned = [t for t in asyncio.all_tasks() - before if t is not current]
        self._dispatch_mark = before
        failures: list[BaseException] = []
        if spawned:
            async with asyncio.timeout(self.timeout):
                results = await asyncio.gather(*spawned, return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
        new_errors = failures + self._collector.errors[first_error:]
        new_errors += [UnmockedRouteError(m) for m in self.unmocked_routes[first_unmocked:]]
        self.errors.extend(new_errors)
        if new_errors and (self.strict if strict is None else strict):
            first = new_errors[0]
            original = getattr(first, "original", None) or first
            raise HarnessError(
                f"interaction {data['type']} raised {type(original).__name__}: {original}", new_errors
            ) from original
        return self.responses[first_response:]

    async def run_command(self, payload: Mapping[str, Any], *, strict: bool | None = None) -> list[Response]:
        if payload.get("type") != 2:
            raise ValueError("run_command expects an APPLICATION_COMMAND payload (type 2); see slash()")
        return await self.dispatch(payload, strict=strict)

    async def press(self, payload: Mapping[str, Any], *, strict: bool | None = None) -> list[Response]:
        if payload.get("type") != 3:
            raise ValueError("press expects a MESSAGE_COMPONENT payload (type 3); see button()")
        return await self.dispatch(payload, strict=strict)

    async def complete(self, payload: Mapping[str, Any], *, strict: bool | None = None) -> list[dict[str, Any]]:
        """Dispatch an autocomplete payload; return the ``[{"name", "value"}]`` choices sent back."""
        if payload.get("type") != 4:
            raise ValueError("expects an AUTOCOMPLETE payload (type 4); see autocomplete()")
        recorded = await self.dispatch(payload, strict=strict)
        for r in recorded:
            if r.kind == "callback" and r.type == 8:
                return r.choices
        raise HarnessError("no autocomplete result was sent", [])

    async def settle(self) -> None:
        """Await tasks spawned (transitively) after the last dispatch began, except view timeouts."""
        current = asyncio.current_task()
        for _ in range(20):
            pending = [
                t
                for t in asyncio.all_tasks() - self._dispatch_mark
                if t is not current and not t.done() and "timeout_task_impl" not in repr(t.get_coro())
            ]
            if not pending:
                return
            async with asyncio.timeout(self.timeout):
                await asyncio.gather(*pending, return_exceptions=True)

    # ------------------------------------------------------------------ recorded views

    @property
    def last(self) -> Response:
        if not self.responses:
            raise AssertionError("no interaction response was recorded")
        return self.responses[-1]

    def callbacks(self) -> list[Response]:
        return [r for r in self.responses if r.kind == "callback"]

    def followups(self) -> list[Response]:
        return [r for r in self.responses if r.kind == "followup"]

    def original_message(self, interaction_id: int) -> dict[str, Any] | None:
        """Current payload of an interaction's ``@original`` message (after edits), if any."""
        payload = self._payloads.get(interaction_id)
        mid = self._original.get(payload["token"]) if payload else None
        return self.messages.get(mid) if mid is not None else None

    def reset(self) -> None:
        """Forget recorded traffic (keeps failure injections and message store)."""
        self.responses.clear()
        self.dms.clear()
        self.channel_messages.clear()
        self.message_edits.clear()
        self.failed_sends.clear()
        self.http_calls.clear()
        self.errors.clear()

    # ------------------------------------------------------------------ failure injection

    def fail_dm(
        self,
        user_id: int,
        code: int = 50007,
        *,
        status: int = 403,
        message: str = "Cannot send messages to this user",
        at: str = "send",
    ) -> None:
        """DMs to ``user_id`` fail like the real API: by default opening the DM channel works and
        ``POST /channels/{dm}/messages`` answers 403 ``{"code": 50007}`` -> ``discord.Forbidden``.
        ``at="open"`` makes ``POST /users/@me/channels`` fail instead."""
        if at not in ("send", "open"):
            raise ValueError("at must be 'send' or 'open'")
        self._dm_failures[user_id] = (status, code, message, at)

    def allow_dm(self, user_id: int) -> None:
        self._dm_failures.pop(user_id, None)

    def fail_channel(
        self, channel_id: int, code: int = 50013, *, status: int = 403, message: str = "Missing Permissions"
    ) -> None:
        """Sends to a channel fail (default: 403 code 50013 Missing Permissions)."""
        self._channel_failures[channel_id] = (status, code, message)

    def fail_next_interaction_response(
        self, code: int = 10062, *, status: int = 404, message: str = "Unknown interaction"
    ) -> None:
        """The next interaction callback fails (default: token expired -> NotFound 10062)."""
        self._interaction_failures.append((status, code, message))

    # ------------------------------------------------------------------ message store

    def _message_payload(
        self,
        mid: int,
        channel_id: int,
        data: Mapping[str, Any],
        *,
        mtype: int = 20,
        files: Sequence[tuple[str, bytes]] = (),
        webhook: bool = False,
    ) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "id": str(mid),
            "channel_id": str(channel_id),
            "type": mtype,
            "content": data.get("content") or "",
            "embeds": list(data.get("embeds") or []),
            "components": list(data.get("components") or []),
            "attachments": self._attachments(data.get("attachments"), files, {}),
            "flags": int(data.get("flags") or 0),
            "author": self._bot_user_payload(),
            "timestamp": _iso_now(),
            "edited_timestamp": None,
            "tts": bool(data.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "application_id": str(self.client._connection.application_id),
        }
        if webhook:
            msg["webhook_id"] = str(self.client._connection.application_id)
        self.messages[mid] = msg
        return copy.deepcopy(msg)

    def _attachments(
        self, spec: Any, files: Sequence[tuple[str, bytes]], existing: Mapping[str, dict[str, Any]]
    ) -> list[dict[str, Any]]:
        if spec is None:
            spec = [{"id": i, "filename": name} for i, (name, _) in enumerate(files)]
        out: list[dict[str, Any]] = []
        for entry in spec:
            key = str(entry.get("id"))
            if key in existing:
                out.append(existing[key])
                continue
            index = int(entry.get("id", 0))
            if index >= len(files):
                continue
            name, blob = files[index]
            aid = self.new_id()
            out.append(
                {
                    "id": str(aid),
                    "filename": name,
                    "size": len(blob),
                    "url": f"https://cdn.invalid/attachments/{aid}/{name}",
                    "proxy_url": f"https://media.invalid/attachments/{aid}/{name}",
                    "content_type": "image/png" if name.endswith(".png") else "application/octet-stream",
                }
            )
        return out

    def _edit_message(self, mid: int, data: Mapping[str, Any], files: Sequence[tuple[str, bytes]]) -> dict[str, Any]:
        msg = self.messages.get(mid)
        if msg is None:
            raise http_error(404, 10008, "Unknown Message")
        for key in ("content", "embeds", "components", "flags"):
            if key in data:
                msg[key] = data[key] if data[key] is not None else ("" if key == "content" else [])
        if "attachments" in data or files:
            existing = {a["id"]: a for a in msg.get("attachments", [])}
            msg["attachments"] = self._attachments(data.get("attachments"), files, existing)
        msg["flags"] = int(msg.get("flags") or 0) & ~LOADING
        msg["edited_timestamp"] = _iso_now()
        return copy.deepcopy(msg)

    def _remember_message(self, message: Mapping[str, Any]) -> None:
        self.messages.setdefault(int(message["id"]), copy.deepcopy(dict(message)))

    # ------------------------------------------------------------------ webhook adapter side

    async def _on_webhook_request(self, route: Any, **kw: Any) -> Any:
        method, path = route.method, route.path
        body = _body(kw.get("payload"), kw.get("multipart"))
        files = _read_files(kw.get("files"))
        self.http_calls.append(HttpCall(method, path, route.url, body))
        if path == "/interactions/{webhook_id}/{webhook_token}/callback":
            return self._on_callback(int(route.webhook_id), route.webhook_token, body, files)
        token = route.webhook_token
        match = re.search(r"/messages/(@original|\d+)$", route.url)
        target = match.group(1) if match else None
        if target == "@original":
            mid = self._original.get(token)
            kind = "original"
        else:
            mid = int(target) if target else None
            kind = "message"
        if method == "POST" and target is None:
            return self._on_followup(token, body, files, wait=bool((kw.get("params") or {}).get("wait")))
        if mid is None or mid not in self.messages:
            raise http_error(404, 10008, "Unknown Message", route.url)
        if method == "GET":
            return copy.deepcopy(self.messages[mid])
        if method == "PATCH":
            msg = self._edit_message(mid, body, files)
            self._record(f"edit_{kind}", None, token, mid, msg, body, files)
            return msg
        if method == "DELETE":
            self.messages.pop(mid, None)
            self._record(f"delete_{kind}", None, token, mid, {}, body, files)
            return None
        raise self._unmocked(f"webhook route {method} {path} is not emulated")

    def _interaction_for_token(self, token: str) -> dict[str, Any] | None:
        return next((p for p in self._payloads.values() if p["token"] == token), None)

    def _record(
        self,
        kind: str,
        ctype: int | None,
        token: str,
        mid: int | None,
        msg: Mapping[str, Any],
        body: dict[str, Any],
        files: list[tuple[str, bytes]],
        choices: list[dict[str, Any]] | None = None,
    ) -> Response:
        interaction = self._interaction_for_token(token)
        resp = Response(
            kind=kind,
            type=ctype,
            interaction_id=int(interaction["id"]) if interaction else None,
            message_id=mid,
            content=msg.get("content"),
            embeds=list(msg.get("embeds") or []),
            components=list(msg.get("components") or []),
            flags=int(msg.get("flags") or 0),
            files=files,
            choices=choices or [],
            payload=body,
        )
        self.responses.append(resp)
        return resp

    def _on_callback(self, iid: int, token: str, body: dict[str, Any], files: list[tuple[str, bytes]]) -> Any:
        if self._interaction_failures:
            status, code, message = self._interaction_failures.pop(0)
            raise http_error(status, code, message)
        ctype = int(body["type"])
        data = body.get("data") or {}
        interaction = self._payloads.get(iid, {})
        channel_id = int(interaction.get("channel_id") or DEFAULT_CHANNEL_ID)
        mid: int | None = None
        msg: dict[str, Any] = {}
        if ctype == 4:
            mid = self.new_id()
            msg = self._message_payload(mid, channel_id, data, files=files, webhook=True)
            self._original[token] = mid
        elif ctype == 5:
            mid = self.new_id()
            flags = int(data.get("flags") or 0) | LOADING
            msg = self._message_payload(mid, channel_id, {"flags": flags}, webhook=True)
            self._original[token] = mid
            msg = {"flags": int(data.get("flags") or 0)}
        elif ctype in (6, 7):
            mid = self._original.get(token)
            if ctype == 7 and mid is not None and mid in self.messages:
                msg = self._edit_message(mid, data, files)
        else:
            msg = {"content": None, "flags": int(data.get("flags") or 0)}
        self._record("callback", ctype, token, mid, msg, body, files, data.get("choices") if ctype == 8 else None)
        result: dict[str, Any] = {
            "interaction": {
                "id": str(iid),
                "type": int(interaction.get("type", 2)),
                "response_message_id": str(mid) if mid is not None else None,
                "response_message_loading": ctype == 5,
                "response_message_ephemeral": bool(int(data.get("flags") or 0) & EPHEMERAL),
            }
        }
        if ctype in (4, 5, 7) and mid is not None and mid in self.messages:
            result["resource"] = {"type": ctype, "message": copy.deepcopy(self.messages[mid])}
        return result

    def _on_followup(self, token: str, body: dict[str, Any], files: list[tuple[str, bytes]], wait: bool) -> Any:
        interaction = self._interaction_for_token(token) or {}
        channel_id = int(interaction.get("channel_id") or DEFAULT_CHANNEL_ID)
        mid = self.new_id()
        msg = self._message_payload(mid, channel_id, body, files=files, webhook=True)
        self._record("followup", None, token, mid, msg, body, files)
        return msg if wait else None

    # ------------------------------------------------------------------ REST (client.http) side

    async def _on_http_request(
        self, route: Any, *, files: Sequence[discord.File] | None = None, form: Any = None, **kw: Any
    ) -> Any:
        body = _body(kw.get("json"), list(form) if form is not None else None)
        blobs = _read_files(files)
        method, path = route.method, route.path
        self.http_calls.append(HttpCall(method, path, route.url, body))
        if (method, path) == ("POST", "/users/@me/channels"):
            user_id = int(body["recipient_id"])
            failure = self._dm_failures.get(user_id)
            if failure and failure[3] == "open":
                raise http_error(failure[0], failure[1], failure[2], route.url)
            return {
                "id": str(self.dm_channel_id(user_id)),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [self.user_payload(user_id)],
            }
        if path == "/channels/{channel_id}/messages" and method == "POST":
            return self._on_channel_send(int(route.channel_id), body, blobs, route.url)
        if path == "/channels/{channel_id}/messages/{message_id}":
            mid = int(route.url.rsplit("/", 1)[1])
            return self._on_channel_message(method, int(route.channel_id), mid, body, blobs)
        if (method, path) == ("GET", "/users/{user_id}"):
            return self.user_payload(int(route.url.rsplit("/", 1)[1]))
        if (method, path) == ("POST", "/channels/{channel_id}/typing"):
            return None
        if method == "PUT" and path in (
            "/applications/{application_id}/commands",
            "/applications/{application_id}/guilds/{guild_id}/commands",
        ):
            return self._on_sync(route, body)
        raise self._unmocked(f"REST route {method} {path} is not emulated by DiscordHarness")

    def _on_channel_send(
        self, channel_id: int, body: dict[str, Any], blobs: list[tuple[str, bytes]], url: str
    ) -> dict[str, Any]:
        user_id = self._dm_users.get(channel_id)
        failure: tuple[int, int, str] | None = None
        if user_id is not None and user_id in self._dm_failures:
            failure = self._dm_failures[user_id][:3]
        elif channel_id in self._channel_failures:
            failure = self._channel_failures[channel_id]
        if failure is not None:
            error = http_error(*failure, url)
            self.failed_sends.append(FailedSend(channel_id, user_id, error, body))
            raise error
        mid = self.new_id()
        msg = self._message_payload(mid, channel_id, body, mtype=0, files=blobs)
        sent = SentMessage(
            kind="send",
            channel_id=channel_id,
            user_id=user_id,
            message_id=mid,
            content=msg["content"],
            embeds=msg["embeds"],
            components=msg["components"],
            flags=msg["flags"],
            files=blobs,
            payload=body,
        )
        (self.dms if user_id is not None else self.channel_messages).append(sent)
        return msg

    def _on_channel_message(
        self, method: str, channel_id: int, mid: int, body: dict[str, Any], blobs: list[tuple[str, bytes]]
    ) -> Any:
        if method == "GET":
            if mid not in self.messages:
                raise http_error(404, 10008, "Unknown Message")
            return copy.deepcopy(self.messages[mid])
        user_id = self._dm_users.get(channel_id)
        if method == "PATCH":
            msg = self._edit_message(mid, body, blobs)
            self.message_edits.append(
                SentMessage(
                    kind="edit",
                    channel_id=channel_id,
                    user_id=user_id,
                    message_id=mid,
                    content=msg["content"],
                    embeds=msg["embeds"],
                    components=msg["components"],
                    flags=msg["flags"],
                    files=blobs,
                    payload=body,
                )
            )
            return msg
        if method == "DELETE":
            self.messages.pop(mid, None)
            self.message_edits.append(SentMessage("delete", channel_id, user_id, mid))
            return None
        raise self._unmocked(f"REST route {method} /channels/{{channel_id}}/messages/{{id}} not emulated")

    def _unmocked(self, message: str) -> UnmockedRouteError:
        self.unmocked_routes.append(message)
        return UnmockedRouteError(message)

    def _on_sync(self, route: Any, body: Any) -> list[dict[str, Any]]:
        guild_id = int(route.guild_id) if route.guild_id is not None else None
        out = []
        for cmd in body:
            entry = dict(cmd)
            entry.update(
                id=str(_stable_id(cmd["name"])),
                application_id=str(self.client._connection.application_id),
                version="1",
            )
            if guild_id is not None:
                entry["guild_id"] = str(guild_id)
            out.append(entry)
        self.synced_commands[guild_id] = out
        return copy.deepcopy(out)


def _perm_str(value: str | int | discord.Permissions | None, default: discord.Permissions) -> str:
    if value is None:
        return str(default.value)
    if isinstance(value, discord.Permissions):
        return str(value.value)
    return str(int(value))
