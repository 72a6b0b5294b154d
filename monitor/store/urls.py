"""``store.url``: which database, with ``${VAR}`` read from the environment and passwords masked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from monitor import secrets
from monitor.secrets import mask_url


class StoreError(RuntimeError):
    """The store URL is wrong, or the database cannot be opened or migrated."""


SUPPORTED = (
    "use sqlite:///relative/path.db (relative to the config file), sqlite:////absolute/path.db or "
    "postgresql://user:${PGPASSWORD}@host[:port]/database"
)


def expand_env(url: str) -> str:
    """``url`` with each ``${VAR}`` replaced by its value; a variable that is not set is an error."""
    try:
        return secrets.expand_env(url)
    except secrets.EnvVarError as e:
        if e.missing is None:
            raise ValueError(str(e)) from None  # a malformed ${...}: the config reports it on its line
        raise StoreError(
            f"store.url names ${{{e.missing}}}, which is not set: export {e.missing}=... before starting"
        ) from None


@dataclass(frozen=True)
class StoreURL:
    """A parsed store URL. ``sqlite_path`` is set for SQLite; ``url`` is the SQLAlchemy URL (its
    repr and str hide the password)."""

    url: URL
    sqlite_path: Path | None

    @property
    def display(self) -> str:
        if self.sqlite_path is not None:
            return f"sqlite:///{self.sqlite_path}"
        return self.url.set(drivername="postgresql").render_as_string(hide_password=True)

    @property
    def is_postgresql(self) -> bool:
        return self.sqlite_path is None


def parse_url(url: str, base_dir: Path) -> StoreURL:
    """``sqlite:///rel.db``, ``sqlite:////abs.db`` or ``postgresql://user:pass@host/db`` (``${VAR}`` expanded)."""
    if "\x00" in url:
        raise StoreError("store.url holds a NUL character: write the URL as plain text")
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        path = Path(expand_env(url[len("sqlite:///"):]))
        path = path if path.is_absolute() else base_dir / path
        return StoreURL(URL.create("sqlite+pysqlite", database=str(path)), path)
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        try:
            parsed = make_url(expand_env(url).replace("postgres://", "postgresql://", 1))
        except (ArgumentError, ValueError):  # ValueError: a port that is not a number
            raise StoreError(f"store.url {mask_url(url)!r} is not a valid URL: {SUPPORTED}") from None
        if parsed.port is not None and not 0 < parsed.port < 65536:
            raise StoreError(f"store.url {mask_url(url)!r} has port {parsed.port}: use 1-65535")
        if not parsed.database:
            raise StoreError(f"store.url {mask_url(url)!r} names no database: {SUPPORTED}")
        return StoreURL(parsed.set(drivername="postgresql+psycopg"), None)
    raise StoreError(f"store.url {mask_url(url)!r} is not supported: {SUPPORTED}")
