"""Every setting of a SecondLook installation, in one typed object read from one place.

Each field is an environment variable ``SECONDLOOK_<FIELD>`` (docs/deployment.md lists them
with their defaults). Values come, in this order, from the process environment, then from an
env file (``SECONDLOOK_ENV_FILE``, or ``secondlook --env-file PATH``: ``NAME=value`` lines),
then the defaults. An empty value counts as unset.

This module is the only one that reads the environment for a setting. The domains keep their
own settings types, built from this object (services.notifications.load_settings,
care.warnings.site_contacts, the SMART and CDS Hooks configurations, the API's base URL and
CORS origins), and keep the rules that only they know (an SMTP password needs STARTTLS, a
webhook must be https); this object checks what a value is (a whole number within its range,
one of a few words, a setting that exists at all). ``serve`` and ``worker`` check both before
anything starts (api.app.check_environment) and print what is wrong, naming the variable.

It depends on nothing else of SecondLook, so that every layer may import it.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PREFIX: Final = "SECONDLOOK_"
#: Where an env file is (read before any setting, so it cannot itself be in the file).
ENV_FILE_VARIABLE: Final = "SECONDLOOK_ENV_FILE"
# Fields whose values are secrets: never echoed in an error message or a repr.
SECRET_FIELDS: Final = frozenset(
    {
        "database_url",
        "smtp_password",
        "notify_webhook_url",
        "notify_webhook_secret",
        "metrics_token",
    }
)


class SettingsError(ValueError):
    """Settings that cannot be used; the message names each variable and says what is wrong."""


def _whole(value: Any, low: int, high: int, unit: str) -> Any:
    """A whole number written in ASCII digits (Python's int() would also take '1_000' and
    Arabic-Indic digits, which no one means in a configuration file)."""
    if value is None or isinstance(value, int):
        text = None if value is None else str(value)
    else:
        text = str(value).strip()
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(f"must be a whole number of {unit} from {low} to {high}, not {text!r:.40}")
    return int(text)


class Settings(BaseSettings):
    """The installation's settings; ``settings()`` gives the current ones."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        case_sensitive=False,
    )

    # -- where the data is ------------------------------------------------------------------
    #: The directory of the embedded SQLite database (default ./data).
    data_dir: Path | None = None
    #: A database URL (postgresql://user:password@host/db); wins over data_dir.
    database_url: str | None = Field(default=None, repr=False)

    # -- the public address and what the API accepts ----------------------------------------
    #: SecondLook's public address: links in FHIR responses, notifications, SMART redirects.
    base_url: str | None = None
    #: The identifier system of the MRNs SecondLook stores (served on FHIR Patients).
    mrn_system: str | None = None
    #: Browser origins allowed to call /fhir and /cds-services (comma-separated).
    cors_origins: str | None = None
    #: The request-body limit in bytes (CDS Hooks calls get at least 16 MiB).
    max_body_bytes: int | None = None
    #: Default lifetime of a new API token, in days.
    token_lifetime_days: int | None = None

    # -- EHR integration --------------------------------------------------------------------
    #: The CDS Hooks configuration file (JSON; docs/fhir.md).
    cds_config: Path | None = None
    #: The EHRs SMART launches may come from: the JSON list itself or a file holding it.
    smart_clients: str | None = None

    # -- what patients are told -------------------------------------------------------------
    emergency_number: str | None = None
    crisis_lines: str | None = None
    care_team_contact: str | None = None

    # -- notifications (docs/notifications.md) ----------------------------------------------
    smtp_host: str | None = None
    smtp_port: str | None = None
    smtp_starttls: str | None = None
    smtp_from: str | None = None
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    notify_webhook_url: str | None = Field(default=None, repr=False)
    notify_webhook_secret: str | None = Field(default=None, repr=False)
    alert_emails: str | None = None
    escalation_minutes: str | None = None

    # -- the server process -----------------------------------------------------------------
    #: Worker processes of `serve` (more than one needs PostgreSQL).
    workers: int | None = None
    log_format: Literal["text", "json"] | None = None
    #: The reverse proxies whose X-Forwarded-For/-Proto headers are trusted.
    forwarded_allow_ips: str | None = None
    #: The bearer token /metrics asks for; without one /metrics is off (404).
    metrics_token: str | None = Field(default=None, repr=False)

    # -- development and tests --------------------------------------------------------------
    #: A traceback instead of the one-line internal error of the command line.
    debug: bool = False
    #: Where initdb and pg_ctl are, for the throwaway PostgreSQL of the tests and benchmarks.
    pg_bindir: Path | None = None
    #: Tests of several workers only: each response names the process that served it.
    test_worker_pid_header: bool = False
    #: The env file this object was read with (see ENV_FILE_VARIABLE).
    env_file: Path | None = None

    @field_validator("max_body_bytes", mode="before")
    @classmethod
    def _body(cls, value: Any) -> Any:
        return _whole(value, 1024, 1024**3, "bytes")

    @field_validator("token_lifetime_days", mode="before")
    @classmethod
    def _lifetime(cls, value: Any) -> Any:
        return _whole(value, 1, 3650, "days")

    @field_validator("workers", mode="before")
    @classmethod
    def _workers(cls, value: Any) -> Any:
        return _whole(value, 1, 64, "processes")

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _token(cls, value: Any) -> Any:
        # A scrape token guards operational figures; a short one is guessed.
        if value is not None and len(str(value).strip()) < 16:
            raise ValueError("must be at least 16 characters (e.g. `openssl rand -hex 32`)")
        return value

    @classmethod
    def of(cls, values: Mapping[str, str]) -> Settings:
        """Settings from `values` alone (``SECONDLOOK_*`` names, as in the environment),
        without reading the environment: for tests and for the domains' loaders."""
        fields = {
            name.removeprefix(PREFIX).lower(): value
            for name, value in values.items()
            if name.startswith(PREFIX) and value.strip()
        }
        try:
            return _Given.model_validate(fields)
        except ValidationError as exc:
            raise SettingsError(describe(exc)) from None


class _Given(Settings):
    """Settings from the values given only (``Settings.of``): no environment, no env file."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def variable(field: str) -> str:
    """The environment variable of a field."""
    return PREFIX + field.upper()


def variables() -> tuple[str, ...]:
    """Every setting's environment variable, SECONDLOOK_ENV_FILE included."""
    return tuple(variable(name) for name in Settings.model_fields)


def describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "?"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "literal_error":
            message = f"{message}, not {str(error['input'])!r:.40}"
        elif error["type"] == "bool_parsing":
            message = f"must be true or false, not {str(error['input'])!r:.40}"
        elif error["type"] not in ("value_error",) and field not in SECRET_FIELDS:
            message = f"{message} (got {str(error['input'])!r:.40})"
        lines.append(f"{variable(field)}: {message}")
    return "; ".join(lines)


def unknown_variables(names: Mapping[str, str]) -> list[str]:
    """SECONDLOOK_ names that are no setting (a typo would otherwise be ignored in silence),
    each with the setting it most looks like."""
    known = set(variables())
    problems = []
    for name in sorted(n for n in names if n.upper().startswith(PREFIX)):
        if name.upper() in known:
            continue
        close = difflib.get_close_matches(name.upper(), sorted(known), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        problems.append(f"{name} is not a SecondLook setting{hint}")
    return problems


def _env_file() -> Path | None:
    raw = os.environ.get(ENV_FILE_VARIABLE, "").strip()
    return Path(raw) if raw else None


def _read_env_file(path: Path) -> dict[str, str]:
    from dotenv import dotenv_values  # python-dotenv: what pydantic-settings reads env files with

    if not path.is_file():
        raise SettingsError(f"{ENV_FILE_VARIABLE}: no file at {path}")
    try:
        values = dotenv_values(path, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{ENV_FILE_VARIABLE}: cannot read {path}: {exc}") from None
    return {k: v for k, v in values.items() if v is not None}


@functools.lru_cache(maxsize=8)
def _load(
    environment: tuple[tuple[str, str], ...], env_file: Path | None, _changed: int | None
) -> Settings:
    problems = unknown_variables(dict(environment))
    if env_file is not None:
        problems += [f"{env_file}: {p}" for p in unknown_variables(_read_env_file(env_file))]
    try:
        # pydantic-settings reads the environment, then the env file (the environment wins).
        loaded = Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems.insert(0, describe(exc))
    if problems:
        raise SettingsError("; ".join(problems))
    return loaded


def settings() -> Settings:
    """The current settings: the environment and the env file, read once per distinct
    environment (changing a variable, as tests do, gives new settings)."""
    environment = tuple(
        sorted((k, v) for k, v in os.environ.items() if k.upper().startswith(PREFIX))
    )
    env_file = _env_file()
    try:  # an edited env file is read again
        changed = env_file.stat().st_mtime_ns if env_file is not None else None
    except OSError:
        changed = None
    return _load(environment, env_file, changed)
