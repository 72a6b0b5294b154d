"""``store.url``: which database, with ``${VAR}`` read from the environment and passwords masked."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError


class StoreError(RuntimeError):
    """The store URL is wrong, or the database cannot be opened or migrated."""


ENV_RE = re.compile(r"\$\{([^}]*)\}")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SUPPORTED = (
    "use sqlite:///relative/path.db (relative to the config file), sqlite:////absolute/path.db or "
    "postgresql://user:${PGPASSWORD}@host[:port]/database"
)


def env_refs(url: str) -> list[str]:
    """The variables ``url`` names; raises ValueError for a malformed reference."""
    names = ENV_RE.findall(url)
    for name in names:
        if not ENV_NAME_RE.match(name):
            raise ValueError(f"${{{name}}} is not a valid environment variable reference; write ${{NAME}}")
    if "${" in ENV_RE.sub("", url):
        raise ValueError("an unclosed ${ in the url; write ${NAME}")
    return names


def expand_env(url: str) -> str:
    """``url`` with each ``${VAR}`` replaced by its value; a variable that is not set is an error."""
    missing = [n for n in env_refs(url) if n not in os.environ]
    if missing:
        raise StoreError(
            f"store.url names ${{{missing[0]}}}, which is not set: export {missing[0]}=... before starting"
        )
    return ENV_RE.sub(lambda m: os.environ[m.group(1)], url)


def mask(url: str) -> str:
    """``url`` safe to show: any password in ``scheme://user:password@host`` replaced by ***."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/@:]*):[^/@]*@", r"\1:***@", url)


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
            raise StoreError(f"store.url {mask(url)!r} is not a valid URL: {SUPPORTED}") from None
        if parsed.port is not None and not 0 < parsed.port < 65536:
            raise StoreError(f"store.url {mask(url)!r} has port {parsed.port}: use 1-65535")
        if not parsed.database:
            raise StoreError(f"store.url {mask(url)!r} names no database: {SUPPORTED}")
        return StoreURL(parsed.set(drivername="postgresql+psycopg"), None)
    raise StoreError(f"store.url {mask(url)!r} is not supported: {SUPPORTED}")
