"""Secrets in configured values: ``${NAME}`` read from the environment, and URLs masked for people.

Passwords stay out of config.yaml (written as ``${CAM_PASS}``, exported before the monitor or the
review page starts) and out of everything people see: logs, errors, check-config, the Cameras page.
One place for both, used by camera sources, the recorder, the store URL and the outputs.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from urllib.parse import urlsplit, urlunsplit

from monitor.config_yaml import ConfigError

ENV_RE = re.compile(r"\$\{([^}]*)\}")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_USERINFO_RE = re.compile(r"(\w+://[^:/@\s]*):[^@\s/]*@")


class EnvVarError(ConfigError, ValueError):
    """A malformed ``${...}`` or one whose variable is not set (a ValueError, so that a config field
    validator reports it on its line). ``missing`` names the unset variable, if that was the fault."""

    def __init__(self, message: str, missing: str | None = None) -> None:
        super().__init__([message])
        self.missing = missing


def env_refs(text: str) -> list[str]:
    """The variables ``text`` names; EnvVarError for a malformed reference."""
    names = ENV_RE.findall(text)
    for name in names:
        if not ENV_NAME_RE.match(name):
            raise EnvVarError(f"${{{name}}} is not a valid environment variable reference; write ${{NAME}}")
    if "${" in ENV_RE.sub("", text):
        raise EnvVarError("an unclosed ${; write ${NAME}")
    return names


def expand_env(text: str, *, quote: bool = False) -> str:
    """``text`` with every ``${NAME}`` replaced by the environment variable NAME.

    A missing variable is an error naming it, never an empty password; the value is never shown.
    ``quote``: percent-encode the values (a password inside a URL may then hold '@', '/' or ':').
    """
    for name in env_refs(text):
        if name not in os.environ:
            raise EnvVarError(f"environment variable {name} is not set (written as ${{{name}}}); export it first", name)

    def value(m: re.Match[str]) -> str:
        v = os.environ[m.group(1)]
        return urllib.parse.quote(v, safe="") if quote else v

    return ENV_RE.sub(value, text)


def mask_url(url: str) -> str:
    """A URL safe to show: the password of ``scheme://user:pass@host`` and every query value hidden
    (camera URLs may carry ``password=``, webhook URLs their token); anything else as it is."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//[^/@]*@", "//***@", url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    query = re.sub(r"((?:^|&)[^=&#]*=)[^&#]*", r"\1***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub(text: str) -> str:
    """Any ``scheme://user:password@`` inside free text (e.g. a library's error) with the password hidden."""
    return _USERINFO_RE.sub(r"\1:***@", text)
