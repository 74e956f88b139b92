"""A newcomer's first commands: `config init`, naming the demo's store with --demo, what the TUI
and `serve` say when no channel is set up, and store URLs socialdesk cannot open."""

from __future__ import annotations

import importlib.util
import re

import pytest
from test_cli import ROOT, demo, socialdesk

from socialdesk.app import SocialdeskApp
from socialdesk.cli import no_channels_hint
from socialdesk.config import Config, ConfigError, load_config, user_config_file
from socialdesk.config import models as config_models
from socialdesk.demo import demo_data_dir
from socialdesk.services.desk import Desk


def test_config_init_writes_the_commented_example_where_socialdesk_looks(tmp_path):
    result = socialdesk("config", "init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = user_config_file()
    assert written.read_text() == (ROOT / "socialdesk.toml").read_text()
    assert str(written) in result.stdout
    check = socialdesk("config", "check", cwd=tmp_path)  # found from any folder, and valid
    assert check.returncode == 0 and f"Config file: {written}" in check.stdout
    again = socialdesk("config", "init", cwd=tmp_path)
    assert again.returncode == 1 and "--force" in again.stderr and len(again.stderr.splitlines()) == 1
    written.write_text("# mine\n")
    assert socialdesk("config", "init", "--force", cwd=tmp_path).returncode == 0
    assert written.read_text().startswith("# socialdesk.toml: every setting")
    elsewhere = tmp_path / "team" / "desk.toml"
    assert socialdesk("--config", str(elsewhere), "config", "init", cwd=tmp_path).returncode == 0
    assert elsewhere.read_text() == written.read_text()


def checked(output: str) -> int:
    return int(re.match(r"(\d+) audit events checked", output)[1])


def test_rules_test_and_audit_verify_read_the_demos_store_with_demo(tmp_path):
    missing = socialdesk("audit", "verify", "--demo", cwd=tmp_path)
    assert missing.returncode == 1 and "run `socialdesk demo` first" in missing.stderr
    demo(demo_data_dir(), "2", "--backlog", "30", "--rate", "0")  # the default data dir, as `socialdesk demo`
    audit = socialdesk("audit", "verify", "--demo", cwd=tmp_path)
    assert audit.returncode == 0 and "chain intact" in audit.stdout
    assert checked(audit.stdout) > 0
    default = socialdesk("audit", "verify", cwd=tmp_path)  # the user's own store is another one
    assert default.returncode == 0 and checked(default.stdout) == 0
    rules = socialdesk("rules", "test", "--demo", "--since", "1d", cwd=tmp_path)
    assert rules.returncode == 0, rules.stderr
    assert int(re.match(r"(\d+) conversations replayed", rules.stdout)[1]) >= 25  # the demo's 30 mentions


def test_with_no_channel_the_tui_and_serve_say_what_to_do(tmp_path):
    assert no_channels_hint(Config(channels=[{"name": "demo", "kind": "simulator"}])) is None
    bare = no_channels_hint(Config())
    assert "socialdesk config init" in bare and "socialdesk demo" in bare
    (tmp_path / "socialdesk.toml").write_text('[[channels]]\nname = "demo"\nkind = "simulator"\nenabled = false\n')
    declared = load_config(cwd=tmp_path)
    assert f"in {tmp_path / 'socialdesk.toml'}" in no_channels_hint(declared)


async def test_the_app_shows_its_start_notice(store):
    app = SocialdeskApp(Desk(store, "alice"), notice="No channel is enabled; try `socialdesk demo`.")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        assert [n.message for n in app._notifications] == ["No channel is enabled; try `socialdesk demo`."]


def test_an_unsupported_store_is_refused_by_config_check_with_file_line_and_key(tmp_path, monkeypatch):
    for url, words in (("mysql://root@db/desk", "unsupported store 'mysql'"),
                       ("postgresql://pg@db/desk", "write postgresql+psycopg://"),
                       ("desk.db", "unsupported store 'desk.db'")):
        (tmp_path / "socialdesk.toml").write_text(f'# the team\'s store\n[store]\nurl = "{url}"\n')
        result = socialdesk("config", "check", cwd=tmp_path)
        assert result.returncode == 2 and result.stdout == ""
        [line] = result.stderr.splitlines()
        assert line.startswith("socialdesk: socialdesk.toml:3: store.url: ") and words in line, line
    assert load_config(env={"SOCIALDESK_STORE__URL": "sqlite:///x.db"}, cwd=tmp_path).store.url == "sqlite:///x.db"
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(config_models, "find_spec", lambda name: None if name == "psycopg" else real_find_spec(name))
    (tmp_path / "socialdesk.toml").write_text('[store]\nurl = "postgresql+psycopg://pg@db/desk"\n')
    with pytest.raises(ConfigError) as error:
        load_config(cwd=tmp_path)
    assert str(error.value) == ("socialdesk.toml:2: store.url: a PostgreSQL store needs its driver: "
                                "pip install 'socialdesk[postgres]'")
