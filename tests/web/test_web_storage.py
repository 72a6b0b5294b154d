"""The storage root: rows keep media paths relative to it, so moving the files is a config change."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from monitor.config import load_config
from tests.web.helpers import CONFIG, PASSWORD, Auth, Site, make_clip, make_jpeg, write_config
from web import create_app
from web.users import add_user


def page_for(folder: Path, root: str) -> tuple[Auth, Site]:
    config = write_config(folder, CONFIG + f"storage: {{root: {root}}}\n")
    cfg = load_config(config)
    app = create_app(config, {"SECRET_KEY": secrets.token_hex(32), "TESTING": True}, instance_path=folder / "instance")
    site = Site(config, cfg, Path(), Path())
    with site.store() as s:
        if s.get_user("admin") is None:
            add_user(s, "admin", "admin", PASSWORD, "test")
    auth = Auth(app.test_client())
    auth.as_("admin")
    return auth, site


def test_moving_the_storage_root_is_a_config_change(tmp_path: Path) -> None:
    auth, site = page_for(tmp_path, "nas1")
    clips = site.cfg.resolve_storage(site.cfg.record.dir)
    assert clips == tmp_path / "nas1" / "data" / "clips"
    clip, snap = make_clip(clips / "a.mp4", seconds=1), make_jpeg(clips / "a.jpg")
    assert site.cfg.storage_rel(clip) == "data/clips/a.mp4"  # what the monitor stores
    alert_id = site.add_alert(clip_path=site.cfg.storage_rel(clip), snapshot_path=site.cfg.storage_rel(snap))
    assert auth.client.get(f"/alerts/{alert_id}/clip").status_code == 200

    # The files move (a new NAS mount); only storage.root changes.
    shutil.move(tmp_path / "nas1", tmp_path / "nas2")
    auth, site = page_for(tmp_path, str(tmp_path / "nas2"))
    resp = auth.client.get(f"/alerts/{alert_id}/clip")
    assert resp.status_code == 200 and resp.mimetype == "video/mp4"
    assert auth.client.get(f"/alerts/{alert_id}/snapshot").status_code == 200
    # A row written before there was a root (an absolute path) still resolves where its file is.
    old = site.add_alert(clip_path=str(tmp_path / "nas2" / "data" / "clips" / "a.mp4"), snapshot_path=None)
    assert auth.client.get(f"/alerts/{old}/clip").status_code == 200
    assert auth.client.get(f"/alerts/{old}/snapshot").status_code == 404
