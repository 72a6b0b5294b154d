"""``python -m web``: accounts, tokens, the secret key, and serving the page, run as real processes."""

from __future__ import annotations

import io
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.store import Store
from tests.web.helpers import REPO, Site
from web.cli import main
from web.users import authenticate, user_for_token


def run(args: list[str], tmp: Path, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {**os.environ, "PYTHONPATH": str(REPO), "WEB_INSTANCE_PATH": str(tmp / "instance")}
    base.pop("WEB_SECRET_KEY", None)
    return subprocess.run([sys.executable, "-m", "web", *args], input=stdin, capture_output=True, text=True,
                          cwd=REPO, env={**base, **(env or {})}, timeout=120)  # fmt: skip


def cli(args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        stdin: str = "") -> tuple[int, str, str]:  # fmt: skip
    """The same ``main`` as ``python -m web``, in this process (a new Python per command costs
    seconds here); standard input is a real text stream."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_python_m_web_users_add_as_a_process(site: Site, tmp_path: Path) -> None:
    out = run(["users", "add", "anna", "--role", "reviewer", "--password-stdin", "--config", str(site.config_path)],
              tmp_path, "a long password\n")  # fmt: skip
    assert out.returncode == 0, out.stderr
    with site.store() as s:
        assert authenticate(s, "anna", "a long password", datetime.now(UTC)) is not None


def test_users_add_list_disable_token(site: Site, capsys, monkeypatch) -> None:
    cfg = ["--config", str(site.config_path)]
    assert cli(["users", "add", "anna", "--role", "reviewer", "--password-stdin", *cfg], capsys, monkeypatch,
               "a long password\n")[0] == 0  # fmt: skip
    code, _, err = cli(["users", "add", "anna", "--role", "viewer", "--password-stdin", *cfg], capsys, monkeypatch,
                       "a long password\n")  # fmt: skip
    assert code == 2 and "exists already" in err
    code, _, err = cli(["users", "add", "bob", "--role", "viewer", "--password-stdin", *cfg], capsys, monkeypatch, "short\n")
    assert code == 2 and "at least 10" in err
    code, token, err = cli(["users", "token", "anna", *cfg], capsys, monkeypatch)
    assert code == 0 and "only its hash" in err
    with Store.open(site.cfg.store.url, site.cfg.base_dir) as s:
        user = user_for_token(s, token.strip())
    assert user is not None and (user.name, user.role) == ("anna", "reviewer")
    assert cli(["users", "disable", "anna", *cfg], capsys, monkeypatch)[0] == 0
    listing = cli(["users", "list", *cfg], capsys, monkeypatch)[1]
    assert "anna" in listing and "disabled" in listing and "bob" not in listing
    with site.store() as s:
        assert user_for_token(s, token.strip()) is None, "disabling revokes the tokens"
        actions = [e.action for e in reversed(s.audit_entries())]
    assert actions == ["user_added", "token_created", "user_disabled"]


def test_set_password_without_terminal_asks_for_stdin(site: Site, capsys, monkeypatch) -> None:
    cfg = ["--config", str(site.config_path)]
    cli(["users", "add", "anna", "--role", "viewer", "--password-stdin", *cfg], capsys, monkeypatch, "a long password\n")
    code, _, err = cli(["users", "set-password", "anna", *cfg], capsys, monkeypatch)
    assert code == 2 and "--password-stdin" in err


def test_bad_config_names_the_problem(tmp_path: Path, capsys, monkeypatch) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text("timezone: Mars/Olympus\n")
    code, _, err = cli(["users", "list", "--config", str(bad)], capsys, monkeypatch)
    assert code == 2 and "config.yaml:1" in err


def test_init_secret_is_idempotent_and_private(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("WEB_INSTANCE_PATH", str(tmp_path / "instance"))
    code, out, _ = cli(["init-secret"], capsys, monkeypatch)
    key_file = tmp_path / "instance" / "secret_key"
    assert code == 0 and "created" in out
    key = key_file.read_text()
    assert len(key.strip()) == 64 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    code, out, _ = cli(["init-secret"], capsys, monkeypatch)
    assert code == 0 and "kept" in out and key_file.read_text() == key


def test_serve_refuses_to_start_without_a_secret_key(site: Site, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("WEB_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("WEB_SECRET_KEY", raising=False)
    code, _, err = cli(["--config", str(site.config_path)], capsys, monkeypatch)
    assert code == 2 and "init-secret" in err and "WEB_SECRET_KEY" in err


def test_serve_refuses_a_bad_login_limit_saying_how_to_write_it(site: Site, capsys, monkeypatch) -> None:
    monkeypatch.setenv("WEB_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("WEB_LOGIN_RATE_LIMIT", "ten a minute")
    code, _, err = cli(["--config", str(site.config_path)], capsys, monkeypatch)
    assert code == 2 and "WEB_LOGIN_RATE_LIMIT" in err and "10 per minute" in err
    assert "Traceback" not in err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_the_login_page(site: Site, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "WEB_SECRET_KEY": "k" * 40}
    proc = subprocess.Popen([sys.executable, "-m", "web", "--config", str(site.config_path), "--port", str(port)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as resp:
                    assert resp.status == 200 and b"Lakeshore Watch" in resp.read()
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the server did not come up: {proc.communicate(timeout=5)}")
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
