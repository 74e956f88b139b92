"""Settings: the example file, lookup order, env overrides, and one-line errors with file:line: key."""

from __future__ import annotations

import os
import re
from pathlib import Path

import platformdirs
import pytest
from pydantic import BaseModel, ValidationError

from socialdesk.config import (
    CHANNEL_KINDS,
    AgentConfig,
    AuditConfig,
    ChannelConfig,
    CredentialsConfig,
    Config,
    ConfigError,
    DeskConfig,
    LogConfig,
    RulesConfig,
    StoreConfig,
    TeamConfig,
    default_store_url,
    load_config,
    summary,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "socialdesk.toml"


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the developer's own config, data dir and SOCIALDESK_* variables out of every test."""
    home = tmp_path / "home"
    user_config, user_data = home / "config" / "socialdesk", home / "data" / "socialdesk"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setattr(platformdirs, "user_config_dir", lambda *a, **k: str(user_config))
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(user_data))
    for name in list(os.environ):
        if name.startswith("SOCIALDESK_"):
            monkeypatch.delenv(name)
    return user_config


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str, name: str = "bad.toml") -> str:
    """The one-line message for a file holding `text`, loaded by explicit path."""
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path / name, text), env={}, cwd=tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert "Traceback" not in message
    return message


# The example file ------------------------------------------------------------------------------
def test_example_file_loads_and_matches_the_documented_setup(tmp_path: Path) -> None:
    config = load_config(EXAMPLE, env={}, cwd=tmp_path)

    assert config.source == EXAMPLE
    assert config.store.url is None
    assert config.store.effective_url == default_store_url()
    assert config.log.level == "info"

    demo, mastodon, *others = config.channels
    assert (demo.name, demo.kind, demo.interval, demo.enabled) == ("demo", "simulator", 2.0, True)
    # One example of every kind, disabled until its credentials are stored.
    assert sorted(c.kind for c in config.channels) == sorted(CHANNEL_KINDS)
    assert not any(c.enabled for c in others)
    assert (mastodon.name, mastodon.kind, mastodon.enabled) == ("brand-mastodon", "mastodon", False)
    assert mastodon.base_url == "https://mastodon.social"
    assert mastodon.handle

    support, escalations = config.teams
    assert (support.name, support.overflow) == ("support", "escalations")
    assert (escalations.name, escalations.overflow) == ("escalations", None)
    assert 2 <= len(config.agents) <= 3
    assert {team for agent in config.agents for team in agent.teams} <= {"support", "escalations"}

    assert config.rules.sla_minutes == 60
    assert {"queue.open", "queue.search", "conversation.send"} <= set(config.keymap)


def test_example_file_documents_every_key_of_every_section() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "socialdesk auth set brand-mastodon" in text
    models: dict[str, type[BaseModel]] = {
        "store": StoreConfig,
        "log": LogConfig,
        "credentials": CredentialsConfig,
        "audit": AuditConfig,
        "channels": ChannelConfig,
        "teams": TeamConfig,
        "agents": AgentConfig,
        "rules": RulesConfig,
        "desk": DeskConfig,
    }
    for section, model in models.items():
        assert re.search(rf"^\[\[?{section}\]\]?$", text, re.MULTILINE), f"no [{section}] in the example"
        for key in model.model_fields:
            documented = rf"^(#?\s*{key}\s*[= ]|\[\[?{section}\.{key}\]\]?$)"
            assert re.search(documented, text, re.MULTILINE), f"{section}.{key} is not documented"
    assert re.search(r"^\[keymap\]$", text, re.MULTILINE)


def test_summary_names_the_file_store_and_channels(tmp_path: Path) -> None:
    env = {"SOCIALDESK_STORE__URL": "postgresql+psycopg://desk:s3cret@db.example.com/desk"}
    text = summary(load_config(EXAMPLE, env=env, cwd=tmp_path))

    assert str(EXAMPLE) in text
    assert "postgresql+psycopg://desk:***@db.example.com/desk" in text
    assert "s3cret" not in text
    assert re.search(r"demo\s+simulator\s+every 2s\s+enabled", text)
    assert re.search(r"brand-mastodon\s+mastodon\s+every 30s\s+disabled", text)
    assert "support (overflow -> escalations)" in text
    assert "Keymap: 3 custom bindings" in text


def test_summary_of_defaults() -> None:
    text = summary(Config())
    assert "built-in defaults" in text
    assert default_store_url() in text
    assert "Channels (0): none" in text


# Lookup order ----------------------------------------------------------------------------------
def test_lookup_order_explicit_then_cwd_then_user_dir_then_defaults(
    tmp_path: Path, isolated_dirs: Path
) -> None:
    cwd = tmp_path / "work"
    cwd.mkdir()
    explicit = write(tmp_path / "elsewhere" / "team.toml", "[rules]\nsla_minutes = 1\n")
    here = write(cwd / "socialdesk.toml", "[rules]\nsla_minutes = 2\n")
    user = write(isolated_dirs / "socialdesk.toml", "[rules]\nsla_minutes = 3\n")

    assert load_config(explicit, env={}, cwd=cwd).rules.sla_minutes == 1
    assert load_config(env={"SOCIALDESK_CONFIG": str(explicit)}, cwd=cwd).rules.sla_minutes == 1
    assert load_config(env={}, cwd=cwd).rules.sla_minutes == 2
    here.unlink()
    assert load_config(env={}, cwd=cwd).rules.sla_minutes == 3
    assert load_config(env={}, cwd=cwd).source == user
    user.unlink()
    defaults = load_config(env={}, cwd=cwd)
    assert defaults.source is None
    assert defaults.channels == [] and defaults.rules.sla_minutes == 60


def test_explicit_path_wins_over_config_variable(tmp_path: Path) -> None:
    chosen = write(tmp_path / "a.toml", "[rules]\nsla_minutes = 7\n")
    other = write(tmp_path / "b.toml", "[rules]\nsla_minutes = 8\n")
    assert load_config(chosen, env={"SOCIALDESK_CONFIG": str(other)}, cwd=tmp_path).rules.sla_minutes == 7


def test_relative_explicit_path_is_read_from_cwd(tmp_path: Path) -> None:
    write(tmp_path / "conf" / "desk.toml", '[log]\nlevel = "error"\n')
    assert load_config(Path("conf/desk.toml"), env={}, cwd=tmp_path).log.level == "error"


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "socialdesk.toml", "")  # present, but not what was asked for
    with pytest.raises(ConfigError, match=r"^nope\.toml: no such config file$"):
        load_config(Path("nope.toml"), env={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"^SOCIALDESK_CONFIG=gone\.toml: no such config file$"):
        load_config(env={"SOCIALDESK_CONFIG": "gone.toml"}, cwd=tmp_path)


def test_default_store_url_is_a_sqlite_file_in_the_user_data_dir(isolated_dirs: Path) -> None:
    data_dir = Path(platformdirs.user_data_dir("socialdesk"))
    assert default_store_url() == f"sqlite:///{(data_dir / 'socialdesk.db').as_posix()}"


# Env overrides ---------------------------------------------------------------------------------
def test_env_overrides_apply_after_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "socialdesk.toml", '[rules]\nsla_minutes = 30\n[log]\nlevel = "info"\n')
    env = {
        "SOCIALDESK_STORE__URL": "sqlite:///tmp/x.db",
        "SOCIALDESK_RULES__SLA_MINUTES": "90",
        "SOCIALDESK_LOG__LEVEL": "debug",
        "SOCIALDESK_LOG__FILE": "true",  # a string key keeps the text even when it reads as TOML
        "SOCIALDESK_AGENT": "alice",  # not an override: no section
        "OTHER__THING": "1",
    }
    config = load_config(path, env=env, cwd=tmp_path)
    assert config.store.url == "sqlite:///tmp/x.db"
    assert config.rules.sla_minutes == 90
    assert config.log.level == "debug"
    assert config.log.file == "true"


def test_env_values_are_toml_scalars_when_possible(tmp_path: Path) -> None:
    config = load_config(
        env={"SOCIALDESK_LOG__LEVEL": '"warning"', "SOCIALDESK_RULES__INFLUENCER_FOLLOWERS": "5_000"},
        cwd=tmp_path,
    )
    assert config.log.level == "warning"
    assert config.rules.influencer_followers == 5000


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"SOCIALDESK_RULES__SLA_MINUTES": "soon"},
            "SOCIALDESK_RULES__SLA_MINUTES: rules.sla_minutes: input should be a valid integer, got 'soon'",
        ),
        (
            {"SOCIALDESK_RULES__SLA_MINUTES": "0"},
            "SOCIALDESK_RULES__SLA_MINUTES: rules.sla_minutes: input should be greater than or equal to 1, got 0",
        ),
        (
            {"SOCIALDESK_LOG__LEVEL": "loud"},
            "SOCIALDESK_LOG__LEVEL: log.level: input should be 'debug', 'info', 'warning' or 'error', got 'loud'",
        ),
        (
            {"SOCIALDESK_STORE__URI": "x"},
            "SOCIALDESK_STORE__URI: unknown key 'uri' in [store] (did you mean 'url'?)",
        ),
        (
            {"SOCIALDESK_SHOP__URL": "x"},
            "SOCIALDESK_SHOP__URL: unknown section 'shop' "
            "(variables can set keys of store, log, rules, credentials, audit)",
        ),
        (
            {"SOCIALDESK_CHANNELS__NAME": "x"},
            "SOCIALDESK_CHANNELS__NAME: unknown section 'channels' "
            "(variables can set keys of store, log, rules, credentials, audit)",
        ),
    ],
)
def test_bad_env_override_names_the_variable(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(env=env, cwd=tmp_path)
    assert str(caught.value) == expected


def test_process_environment_is_read_when_env_is_not_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALDESK_RULES__SLA_MINUTES", "5")
    assert load_config(cwd=tmp_path).rules.sla_minutes == 5


# One-line errors with file, line and key -------------------------------------------------------
TWO_CHANNELS = """\
[store]

[[channels]]
name = "demo"
kind = "simulator"

[[channels]]
name = "second"
kind = "{kind}"
{extra}
"""


def test_unknown_top_level_key(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[log]\nlevel = "info"\n\n[shop]\nurl = "x"\n')
    assert message.startswith("bad.toml:4: shop: unknown key")


def test_unknown_key_in_second_channel(tmp_path: Path) -> None:
    message = error_of(tmp_path, TWO_CHANNELS.format(kind="mastodon", extra="intervall = 5"))
    assert message == "bad.toml:10: channels[1].intervall: unknown key (did you mean 'interval'?)"


def test_wrong_type(tmp_path: Path) -> None:
    message = error_of(tmp_path, TWO_CHANNELS.format(kind="mastodon", extra='enabled = "yes"'))
    assert message == "bad.toml:10: channels[1].enabled: input should be a valid boolean, got 'yes'"


def test_int_where_a_number_is_expected_is_fine_but_bool_for_int_is_not(tmp_path: Path) -> None:
    path = write(tmp_path / "ok.toml", TWO_CHANNELS.format(kind="x", extra="interval = 5"))
    assert load_config(path, env={}).channels[1].interval == 5.0
    assert error_of(tmp_path, "[agents]\n", name="t.toml").startswith("t.toml:1: agents: expected an array")
    message = error_of(tmp_path, '\n[[agents]]\nname = "a"\ncap = true\n')
    assert message == "bad.toml:4: agents[0].cap: input should be a valid integer, got true"


def test_unknown_channel_kind(tmp_path: Path) -> None:
    message = error_of(tmp_path, TWO_CHANNELS.format(kind="myspace", extra=""))
    assert message == (
        "bad.toml:9: channels[1].kind: unknown channel kind 'myspace' (expected one of "
        + ", ".join(CHANNEL_KINDS)
        + ")"
    )


def test_out_of_range_value(tmp_path: Path) -> None:
    message = error_of(tmp_path, TWO_CHANNELS.format(kind="x", extra="page_limit = 500"))
    assert message == "bad.toml:10: channels[1].page_limit: input should be less than or equal to 100, got 500"


def test_missing_required_key_points_at_its_table(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[[teams]]\nname = "a"\n\n[[teams]]\nskills = ["x"]\n')
    assert message == "bad.toml:4: teams[1].name: required key is missing"


def test_syntax_error_gives_file_and_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[log]\nlevel = "info"\nfile = \n')
    assert message == "bad.toml:3: syntax error: invalid value (column 8)"


def test_duplicate_names(tmp_path: Path) -> None:
    message = error_of(tmp_path, TWO_CHANNELS.format(kind="x", extra="").replace('"second"', '"demo"'))
    assert message == "bad.toml:8: channels[1].name: duplicate channel name 'demo' (also channels[0])"
    message = error_of(
        tmp_path, '[[agents]]\nname = "al"\n[[agents]]\nname = "bo"\n[[agents]]\nname = "al"\n'
    )
    assert message == "bad.toml:6: agents[2].name: duplicate agent name 'al' (also agents[0])"


def test_unknown_or_self_overflow_team(tmp_path: Path) -> None:
    teams = '[[teams]]\nname = "support"\noverflow = "{overflow}"\n\n[[teams]]\nname = "escalations"\n'
    message = error_of(tmp_path, teams.format(overflow="tier3"))
    assert message == "bad.toml:3: teams[0].overflow: unknown team 'tier3' (teams: support, escalations)"
    message = error_of(tmp_path, teams.format(overflow="support"))
    assert message == "bad.toml:3: teams[0].overflow: team 'support' cannot overflow to itself"


def test_agent_in_unknown_team(tmp_path: Path) -> None:
    message = error_of(
        tmp_path, '[[teams]]\nname = "support"\n\n[[agents]]\nname = "al"\nteams = ["support", "sales"]\n'
    )
    assert message == "bad.toml:6: agents[0].teams[1]: unknown team 'sales' (teams: support)"


def test_error_in_a_sub_table_and_after_a_multiline_string(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[[channels]]\nname = "a"\nkind = "x"\n\n[channels.auth]\ntoken = "t"\n')
    assert message.startswith("bad.toml:5: channels[0].auth: unknown key")
    message = error_of(tmp_path, '[[agents]]\nname = "a"\ndisplay_name = """\ncap = 3\n"""\ncap = 0\n')
    assert message == "bad.toml:6: agents[0].cap: input should be greater than or equal to 1, got 0"


def test_file_found_in_cwd_is_named_relative_to_it(tmp_path: Path) -> None:
    write(tmp_path / "socialdesk.toml", '[rules]\nsla_minutes = "an hour"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(env={}, cwd=tmp_path)
    assert str(caught.value).startswith("socialdesk.toml:2: rules.sla_minutes: ")


def test_source_is_not_a_settable_key(tmp_path: Path) -> None:
    assert error_of(tmp_path, 'source = "/etc/passwd"\n') == "bad.toml:1: source: unknown key"


# Keymap ----------------------------------------------------------------------------------------
def test_keymap_accepts_quoted_and_dotted_binding_ids(tmp_path: Path) -> None:
    path = write(tmp_path / "k.toml", '[keymap]\n"queue.open" = "enter,o"\nconversation.send = "ctrl+s"\n')
    assert load_config(path, env={}).keymap == {"queue.open": "enter,o", "conversation.send": "ctrl+s"}


def test_keymap_rejects_bad_key_strings(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[keymap]\n"queue.open" = "enter"\nqueue.search = "ctrl f"\n')
    assert (
        message
        == "bad.toml:3: keymap.\"queue.search\": expected keys like 'ctrl+s' or 'j,down', got 'ctrl f'"
    )
    message = error_of(tmp_path, '[keymap]\n"queue.open" = 5\n')
    assert message == 'bad.toml:2: keymap."queue.open": input should be a valid string, got 5'


def test_keymap_refuses_a_binding_id_no_screen_has(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[keymap]\n"queue.open" = "enter"\n"queue.opne" = "o"\n')
    assert message == "bad.toml:3: keymap.\"queue.opne\": unknown binding id (did you mean 'queue.open'?)"
    message = error_of(tmp_path, '[keymap]\nzzz = "o"\n')
    assert message.startswith("bad.toml:2: keymap.zzz: unknown binding id (known: act.apply_to_marked, ")


def test_the_binding_registry_is_every_screens_binding_ids() -> None:
    """The registry config reads without importing Textual is exactly what the screens declare."""
    import importlib
    import inspect
    import pkgutil

    import socialdesk.screens
    from socialdesk.config.bindings import BINDING_IDS

    modules = [importlib.import_module("socialdesk.app")] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(socialdesk.screens.__path__, "socialdesk.screens.")]
    bindings = [b for module in modules for _, owner in inspect.getmembers(module, inspect.isclass)
                if owner.__module__ == module.__name__ for b in owner.__dict__.get("BINDINGS", [])]
    assert len(bindings) > 20
    assert all(getattr(b, "id", None) for b in bindings)  # every binding can be remapped
    assert {b.id for b in bindings} == BINDING_IDS


# Models ----------------------------------------------------------------------------------------
def test_models_are_frozen_and_defaults_match_the_contract() -> None:
    channel = ChannelConfig(name="demo", kind="simulator")
    assert (channel.interval, channel.enabled, channel.page_limit, channel.max_length) == (
        30.0,
        True,
        None,
        None,
    )
    with pytest.raises(ValidationError):
        channel.interval = 5  # type: ignore[misc]
    config = Config()
    assert (
        config.rules.influencer_followers,
        config.rules.sla_minutes,
        config.rules.priority.private_points,
    ) == (10_000, 60, 10)
    assert config.log.level == "info" and config.keymap == {} and config.source is None


def test_channel_keys_are_checked_against_the_channel_kind(tmp_path: Path) -> None:
    message = error_of(tmp_path, TWO_CHANNELS.format(kind="x", extra='imap_host = "imap.example.com"'))
    assert message == "bad.toml:10: channels[1].imap_host: imap_host applies to email channels only, not to x"
    message = error_of(tmp_path, TWO_CHANNELS.format(kind="email", extra='address = "help@example.com"'))
    assert message.endswith("channels[1].imap_host: an email channel needs imap_host")
    message = error_of(tmp_path, TWO_CHANNELS.format(kind="email", extra='address = "help"'))
    assert "channels[1].address: expected an email address like support@example.com, got 'help'" in message
    message = error_of(tmp_path, TWO_CHANNELS.format(kind="telegram", extra="long_poll = 90"))
    assert message == "bad.toml:10: channels[1].long_poll: input should be less than or equal to 50, got 90"


def test_cross_checks_also_guard_models_built_in_code() -> None:
    with pytest.raises(ValidationError, match="unknown team 'nope'"):
        Config(agents=[{"name": "a", "teams": ["nope"]}])  # type: ignore[list-item]
