"""The one settings object of tiepdan.

Built once per entry point (web, media agent, worker, CLI) by :func:`load_settings` and passed
down; nothing else reads environment variables. Values come, highest priority first, from
``TIEPDAN_*`` environment variables (nested with ``__``, e.g. ``TIEPDAN_S3__BUCKET``), an optional
TOML file, and the defaults below, which point at the embedded local stack. Credentials that are
not configured are taken from the local stack's generated secrets in the state directory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from config.errors import ConfigError
from config.local_secrets import LocalSecrets, load_or_create_local_secrets
from config.public_urls import public_url_problems

DEFAULT_WHISPER_MODEL = "base"
DOCKER_SECRETS_DIR = Path("/run/secrets")
"""Where Docker (compose or swarm) mounts a service's secrets, one file each."""


class _Section(BaseModel):
    """A settings section: a misspelt key is an error, not a silently ignored value."""

    model_config = ConfigDict(extra="forbid")


class LiveKitSettings(_Section):
    """The LiveKit SFU: where servers and browsers reach it, and its key pair."""

    # Where the orchestrator's server API calls and the media agents reach it (in Docker:
    # ws://livekit:7880).
    url: str = "ws://127.0.0.1:7880"
    # What browsers get (join page, listen-in, dashboard): wss:// through the TLS proxy in
    # production. Empty: the same as ``url`` (the local stack, on loopback).
    public_url: str = ""
    api_key: str = ""
    api_secret: SecretStr = SecretStr("")
    # Used only when the local stack runs livekit-server: a small UDP range for media, and ICE
    # over TCP off (0), because livekit-server v1.13.5 binds its ICE/TCP listener on every
    # interface with no way to restrict it, and the local stack listens on loopback only.
    rtc_tcp_port: int = 0
    rtc_udp_port_start: int = 50100
    rtc_udp_port_end: int = 50199
    # A live session's room that the SFU lost (it restarted) is recreated at once; if nobody but
    # the recorder is back in it this many seconds later, the session ends (as LiveKit itself
    # keeps a room 120 s after its last participant left).
    room_lost_grace_s: float = Field(default=120.0, gt=0)

    @property
    def browser_url(self) -> str:
        """The signalling URL handed to every browser."""
        return self.public_url or self.url

    @property
    def http_url(self) -> str:
        """The server API's base URL (http[s] for the ws[s] signalling URL)."""
        return self.url.replace("ws://", "http://", 1).replace("wss://", "https://", 1)

    @property
    def port(self) -> int:
        """The signalling/API port taken from :attr:`url`."""
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "wss" else 80)


class S3Settings(_Section):
    """The S3-compatible archive store (MinIO in production, SeaweedFS locally)."""

    endpoint: str = "http://127.0.0.1:8333"
    access_key: str = ""
    secret_key: SecretStr = SecretStr("")
    region: str = "us-east-1"
    bucket: str = "tiepdan-archive"
    # COMPLIANCE retention per record type, in days (nobody, root included, may shorten it).
    retention_media_days: int = Field(default=3650, ge=1)
    retention_transcript_days: int = Field(default=3650, ge=1)
    retention_minutes_days: int = Field(default=3650, ge=1)
    retention_metadata_days: int = Field(default=3650, ge=1)

    def retention_days(self, record_type: str) -> int:
        """The retention of one record type (media, transcript, minutes, metadata)."""
        days: int = getattr(self, f"retention_{record_type}_days")
        return days

    @property
    def host(self) -> str:
        """``host:port`` as the minio client wants it."""
        return urlsplit(self.endpoint).netloc

    @property
    def secure(self) -> bool:
        """Whether the endpoint uses TLS."""
        return urlsplit(self.endpoint).scheme == "https"

    @property
    def port(self) -> int:
        """The endpoint's port."""
        parts = urlsplit(self.endpoint)
        return parts.port or (443 if self.secure else 80)


class DatabaseSettings(_Section):
    """The relational database. Empty URL: a SQLite file in the state directory."""

    url: str = ""
    # Used only by the local stack's optional PostgreSQL (`stack up --with postgres`).
    local_postgres_port: int = 5433

    @property
    def local_postgres_url(self) -> str:
        """The local PostgreSQL's maintenance database (trust auth, loopback only)."""
        return f"postgresql+asyncpg://tiepdan@127.0.0.1:{self.local_postgres_port}/postgres"


class BrokerSettings(_Section):
    """The Celery broker and result backend (Redis)."""

    url: str = "redis://127.0.0.1:6390/0"
    # A task whose worker died is delivered again after this long. Longer than the pipeline's
    # session steps (their time limits are derived from it), so Redis does not deliver one
    # that is still running; a transcription may run longer, and its second delivery finds
    # the track claimed and does nothing. Not what recovers a lost job: the pipeline's sweeper
    # does that from the database (``pipeline.stale_after_s``).
    visibility_timeout_s: int = Field(default=1800, ge=10)

    @property
    def port(self) -> int:
        """The broker's port."""
        return urlsplit(self.url).port or 6379


class PipelineSettings(_Section):
    """How the post-session pipeline is kept moving."""

    # A session whose pipeline shows no sign of life (a step starting or finishing, a track's
    # progress, a running step's heartbeat) for this long has its next step sent again by the
    # orchestrator's sweeper, from the progress rows in the database; so does a pipeline start
    # no worker acknowledged. Running steps beat four times within it.
    stale_after_s: int = Field(default=300, ge=2)
    # One track's transcription (its audio may last hours; it beats while it runs).
    transcribe_time_limit_s: int = Field(default=4 * 3600, ge=10)

    @property
    def heartbeat_s(self) -> float:
        """Seconds between two heartbeats of a running step."""
        return self.stale_after_s / 4


VocabularyHint = Literal["off", "hotwords", "prompt", "prompt+glossary"]
"""How a session's vocabulary reaches the decoder (``transcription.glossary.decoder_hints``)."""


class WhisperSettings(_Section):
    """Speech recognition with faster-whisper."""

    model: str = Field(
        default=DEFAULT_WHISPER_MODEL,
        description="'base' (the embedded model when the 'model' extra is installed), "
        "a directory holding a CTranslate2 model, or a name faster-whisper resolves online.",
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str = "auto"
    cpu_threads: int = 0
    beam_size: int = 5
    language: str = "vi"
    # How the session's own vocabulary (participants, places, agency, title) reaches the
    # decoder; transcription.glossary says what each hint holds and what it measured. Off for
    # the embedded base model, which invents the hinted words; worth trying on a larger one.
    session_vocabulary: VocabularyHint = "off"


class MediaSettings(_Section):
    """What the media agent records."""

    # Cameras too, as H.264 at most 640x360 and 15 fps (about 0.05 CPU per camera; README).
    video: bool = False
    # On SIGTERM the agent closes its recorders and bridges within this many seconds, then hands
    # its leases back (at most 3 s more): docker-compose's stop_grace_period must be longer.
    shutdown_timeout_s: float = Field(default=20.0, gt=0, le=600)


class SecuritySettings(_Section):
    """Secrets for signing links and cookies, and how sign-in attempts are held back."""

    secret_key: SecretStr = SecretStr("")
    # Base64 of the 32-byte Ed25519 seed that signs archive manifests. Set it in production
    # (and keep it apart from the archive); empty: derived from ``secret_key``.
    archive_signing_key: SecretStr = SecretStr("")
    # Sign-in throttling, as rate strings of the `limits` package: attempts per account name
    # (a correct password clears them) and per client address (an office behind one address
    # signs many people in). A used-up tier locks until its oldest attempt leaves the window,
    # so the lock grows with each tier: a quarter of an hour, an hour, a day.
    login_limits_per_account: str = "5/15 minutes;10/hour;20/day"
    login_limits_per_address: str = "30/15 minutes;100/hour;300/day"
    # The TLS reverse proxies in front of the orchestrator: from these, the client address is
    # the last one X-Forwarded-For names that is not itself a proxy. Empty: the peer's address.
    trusted_proxies: tuple[IPvAnyNetwork, ...] = ()

    @field_validator("login_limits_per_account", "login_limits_per_address")
    @classmethod
    def _rate_limits(cls, value: str) -> str:
        parse_many(value)  # a ValueError names what cannot be read
        return value

    @property
    def archive_signing_seed(self) -> bytes:
        """The 32-byte Ed25519 seed of the archive's manifest signing key."""
        configured = self.archive_signing_key.get_secret_value()
        if configured:
            seed = base64.b64decode(configured, validate=True)
            if len(seed) != 32:
                raise ValueError("security.archive_signing_key must be 32 bytes, base64")
            return seed
        key = self.secret_key.get_secret_value().encode()
        return hmac.new(key, b"tiepdan-archive-signing", hashlib.sha256).digest()

    @property
    def media_agent_token(self) -> str:
        """What media agents present to the orchestrator (X-Tiepdan-Agent), derived from the
        secret key so both sides of one deployment know it without another secret to share."""
        key = self.secret_key.get_secret_value().encode()
        return hmac.new(key, b"tiepdan-media-agent", hashlib.sha256).hexdigest()


class WebSettings(_Section):
    """The orchestrator's HTTP server."""

    host: str = "127.0.0.1"
    port: int = 8470
    # Where browsers, calendar apps and LiveKit's webhooks of the local stack reach the
    # orchestrator: https:// through the TLS proxy in production.
    public_url: str = "http://127.0.0.1:8470"
    # Where media agents reach its API from the servers' own network (in Docker:
    # http://orchestrator:8470). Empty: the same as ``public_url``.
    internal_url: str = ""
    # A launch link opens this long before the scheduled start and closes at the scheduled end.
    launch_opens_before_min: int = Field(default=30, ge=0, le=24 * 60)
    # The provincial officers' join page says how many central observers listen in.
    show_central_observers: bool = True
    # On SIGTERM, requests still running after the event streams end get this long (aiohttp's
    # shutdown_timeout, 60 s by default); the central board then has up to 5 s to leave the rooms
    # it watched: within compose's stop_grace_period of 15 s, so none is killed.
    shutdown_timeout_s: float = Field(default=8.0, gt=0, le=600)

    @property
    def secure_cookies(self) -> bool:
        """Cookies are sent over TLS only whenever browsers reach the pages over https."""
        return self.public_url.startswith("https://")

    @property
    def server_url(self) -> str:
        """The orchestrator's base URL for other tiepdan processes."""
        return (self.internal_url or self.public_url).rstrip("/")

    @property
    def livekit_webhook_url(self) -> str:
        """Where LiveKit posts room events."""
        return self.public_url.rstrip("/") + "/livekit/webhook"


class SchedulingSettings(_Section):
    """Bounds on what one request may schedule: a recurrence's expansion, an .ics import."""

    # A recurrence is expanded in a child process killed after this long: a rule that never
    # yields would otherwise keep dateutil stepping day by day to the year 9999.
    expansion_timeout_s: float = Field(default=3.0, gt=0, le=60)
    # An .ics import: the largest file, the most events in it, the most sessions it may create
    # (a recurring event makes one per occurrence within a year), all in one transaction.
    import_max_bytes: int = Field(default=1024 * 1024, ge=1024)
    import_max_events: int = Field(default=500, ge=1)
    import_max_sessions: int = Field(default=1000, ge=1)


class LoggingSettings(_Section):
    """How every process writes its log lines (config.logs)."""

    # ``text`` for a person at a terminal; ``json`` (one object a line, with the request id and
    # the session id / room of every line that concerns one) for a log collector.
    format: Literal["text", "json"] = "text"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class MetricsSettings(_Section):
    """Prometheus metrics: the orchestrator's, the media agent's and the worker's."""

    # ``GET /metrics`` on the orchestrator's own port, without login: it tells how many sessions
    # are live in which province and how backed up the pipeline is, never a name or a room.
    # Turn it off where that port faces the public and the proxy cannot hide the path.
    orchestrator: bool = True
    # The media agent and the worker serve their metrics on a port of their own (0: none).
    host: str = "127.0.0.1"
    media_port: int = Field(default=0, ge=0, le=65535)
    worker_port: int = Field(default=0, ge=0, le=65535)
    # Database-derived gauges are computed at scrape time and reused for this long.
    cache_s: float = Field(default=5.0, ge=0, le=300)


class FaultSettings(_Section):
    """Test only: named points where a process kills itself, to prove that what it was doing
    survives the crash (e.g. ``session_end.committed``: between the commit that ends a session and
    the send that starts its pipeline). Empty, as it must stay in production."""

    kill_at: frozenset[str] = frozenset()


class PathSettings(_Section):
    """Where state lives. Relative paths are taken from the working directory."""

    state_dir: Path = Path(".tiepdan")
    bin_dir: Path | None = None
    model_cache_dir: Path | None = None
    # Recordings and job outputs waiting to be archived. Media agents and workers that may take
    # over each other's sessions must share it (a shared volume in docker-compose).
    spool_dir: Path | None = None

    @model_validator(mode="after")
    def _absolute(self) -> PathSettings:
        self.state_dir = self.state_dir.expanduser().absolute()
        self.bin_dir = (self.bin_dir or self.state_dir / "bin").expanduser().absolute()
        self.spool_dir = (self.spool_dir or self.state_dir / "spool").expanduser().absolute()
        self.model_cache_dir = (
            (self.model_cache_dir or self.state_dir / "models").expanduser().absolute()
        )
        return self

    @property
    def logs_dir(self) -> Path:
        """Log files of the local stack's processes."""
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        """Pid files and generated configuration of the local stack."""
        return self.state_dir / "run"

    @property
    def data_dir(self) -> Path:
        """Data of the local stack's services."""
        return self.state_dir / "data"


# Every credential the local stack generates when it is not configured: the settings section,
# its field, and the field of LocalSecrets that fills it.
LOCAL_CREDENTIALS = (
    ("livekit", "api_key", "livekit_api_key"),
    ("livekit", "api_secret", "livekit_api_secret"),
    ("s3", "access_key", "s3_access_key"),
    ("s3", "secret_key", "s3_secret_key"),
    ("security", "secret_key", "secret_key"),
)


def _plain(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class Settings(BaseSettings):
    """Every setting of tiepdan, in nested sections."""

    model_config = SettingsConfigDict(
        env_prefix="TIEPDAN_", env_nested_delimiter="__", extra="forbid", toml_file=None
    )

    livekit: LiveKitSettings = LiveKitSettings()
    s3: S3Settings = S3Settings()
    db: DatabaseSettings = DatabaseSettings()
    broker: BrokerSettings = BrokerSettings()
    pipeline: PipelineSettings = PipelineSettings()
    whisper: WhisperSettings = WhisperSettings()
    media: MediaSettings = MediaSettings()
    security: SecuritySettings = SecuritySettings()
    web: WebSettings = WebSettings()
    scheduling: SchedulingSettings = SchedulingSettings()
    paths: PathSettings = PathSettings()
    faults: FaultSettings = FaultSettings()
    logging: LoggingSettings = LoggingSettings()
    metrics: MetricsSettings = MetricsSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment over secret files over the TOML file over defaults.

        A secret file is named like the variable it stands for (``TIEPDAN_SECURITY__SECRET_KEY``
        in the secrets directory, e.g. a Docker secret's target) and holds its value, so
        secrets need not sit in the environment, where ``docker inspect`` shows them.
        """
        secret_files = NestedSecretsSettingsSource(file_secret_settings, secrets_dir_missing="ok")
        return (init_settings, env_settings, secret_files, TomlConfigSettingsSource(settings_cls))

    @model_validator(mode="after")
    def _derived_defaults(self) -> Settings:
        if not self.db.url:
            self.db.url = f"sqlite+aiosqlite:///{self.paths.state_dir / 'tiepdan.db'}"
        return self

    @model_validator(mode="after")
    def _sweeper_before_redelivery(self) -> Settings:
        # A killed step is sent again by the sweeper after stale_after_s; were Redis to
        # redeliver it first, the redelivered job would find the dead run's progress still
        # fresh, take it for a run in progress and drop itself.
        if self.pipeline.stale_after_s >= self.broker.visibility_timeout_s:
            raise ValueError(
                f"pipeline.stale_after_s ({self.pipeline.stale_after_s}) must be shorter than "
                f"broker.visibility_timeout_s ({self.broker.visibility_timeout_s})"
            )
        return self

    @model_validator(mode="after")
    def _joinable_public_urls(self) -> Settings:
        problems = public_url_problems(self.web.public_url, self.livekit.browser_url)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def with_local_secrets(self, secrets: LocalSecrets) -> Settings:
        """Fill every credential left empty from the local stack's generated ``secrets``."""
        updates: dict[str, dict[str, str | SecretStr]] = {}
        for section, name, generated in LOCAL_CREDENTIALS:
            value = getattr(getattr(self, section), name)
            if not _plain(value):
                fill = getattr(secrets, generated)
                updates.setdefault(section, {})[name] = (
                    SecretStr(fill) if isinstance(value, SecretStr) else fill
                )
        return self.model_copy(
            update={
                section: getattr(self, section).model_copy(update=fields)
                for section, fields in updates.items()
            }
        )

    def missing_credentials(self) -> bool:
        """Whether any credential is left for the local secrets to fill."""
        return not all(
            _plain(getattr(getattr(self, section), name)) for section, name, _ in LOCAL_CREDENTIALS
        )

    def masked(self) -> dict[str, Any]:
        """The settings as plain JSON data, every secret shown as ``**********``."""
        return self.model_dump(mode="json")


def load_settings(
    config_file: Path | None = None, secrets_dir: Path = DOCKER_SECRETS_DIR
) -> Settings:
    """Build the settings once for an entry point.

    Args:
        config_file: an optional TOML file; environment variables override it.
        secrets_dir: files named like ``TIEPDAN_*`` variables, each holding the value (Docker
            secrets); environment variables override them, they override the TOML file.

    Returns:
        The settings, with any credential left empty taken from (and on first use generated
        into) ``{state_dir}/secrets.json``, the local stack's own credentials.

    Raises:
        ConfigError: a value is malformed or a key unknown; the message names each one.
    """
    settings_cls: type[Settings] = Settings
    if config_file is not None:

        class FileSettings(Settings):
            model_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": config_file})

        settings_cls = FileSettings
    try:
        settings = settings_cls(_secrets_dir=secrets_dir)
    except (ValidationError, SettingsError) as e:
        raise ConfigError(
            f"invalid settings{f' in {config_file}' if config_file else ''}:\n{e}"
        ) from e
    if settings.missing_credentials():
        settings = settings.with_local_secrets(
            load_or_create_local_secrets(settings.paths.state_dir)
        )
    return settings
