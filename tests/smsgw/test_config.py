from __future__ import annotations

from pathlib import Path

import pytest

from smsgw.app import Gateway
from smsgw.config import load
from smsgw.errors import ConfigError
from tests.smsgw.testbed import CONFIG, WriteConfig

REPO = Path(__file__).resolve().parents[2]


def test_the_default_config_file_loads() -> None:
    settings = load(REPO / "config.toml")
    assert settings.gateway.short_code == "1515"
    assert settings.gateway.zone.key == "America/Belize"
    assert {channel.carrier for channel in settings.channels} == {"btl", "smart"}
    assert settings.simulator is not None
    assert set(settings.simulator.accounts) == {c.system_id for c in settings.channels}


def test_relative_paths_are_resolved_against_the_config_folder(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    settings = load(write_config(CONFIG))
    assert settings.gateway.data_dir == tmp_path / "data"
    assert settings.database.sqlite_path == tmp_path / "data" / "test.db"


def test_an_absolute_database_path_is_kept(write_config: WriteConfig) -> None:
    text = CONFIG.replace("sqlite:///data/test.db", "sqlite:////var/lib/smsgw/smsgw.db")
    assert load(write_config(text)).database.sqlite_path == Path("/var/lib/smsgw/smsgw.db")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('short_code = "1515"', 'shortcode = "1515"'), "gateway.shortcode: unknown key"),
        (('short_code = "1515"', 'shortcode = "1515"'), "gateway.short_code: missing key"),
        (('port = 2775\nsystem_id = "smsgw-btl"', 'port = 2775\nsystem_id = "smsgw-btl"\ntps = -1'),
         "channels[0].tps: Input should be greater than or equal to 0"),
        (('"+50165"', '"50165"'), "channels[1].prefixes: prefix '50165' must be '+' and digits"),
        (('timezone = "America/Belize"', 'timezone = "America/Belmopan"'),
         "gateway.timezone: unknown time zone 'America/Belmopan'"),
        (('default_region = "BZ"', 'default_region = "XX"'), "gateway.default_region: unknown"),
        (("sqlite:///data/test.db", "postgresql://db/smsgw"),
         "database.url: PostgreSQL is not yet supported"),
        (("sqlite:///data/test.db", "mysql://db/smsgw"), "database.url: expected sqlite:///"),
        (('name = "smart-1"', 'name = "btl-1"'), "channels: channel names must be unique"),
        (('password = "secret"\nprefixes = ["+50165"]',
          'password_env = "SMSGW_TEST_UNSET_VARIABLE"\nprefixes = ["+50165"]'),
         "channels[1]: environment variable SMSGW_TEST_UNSET_VARIABLE is not set"),
        (("[http]", "[htp]"), "htp: unknown key"),
    ],
    ids=["unknown-key", "missing-key", "bad-value", "bad-prefix", "bad-timezone",
         "bad-region", "postgresql", "other-scheme", "duplicate-name", "missing-env",
         "unknown-table"],
)  # fmt: skip
def test_a_bad_config_names_the_key_and_the_problem(
    write_config: WriteConfig, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in CONFIG
    path = write_config(CONFIG.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert f"{path}: {message}" in str(caught.value)


def test_a_password_from_the_environment_is_read(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSGW_TEST_BTL_PASSWORD", "from-env")
    text = CONFIG.replace('password = "secret"', 'password_env = "SMSGW_TEST_BTL_PASSWORD"', 1)
    password = load(write_config(text)).channels[0].password
    assert password is not None
    assert password.get_secret_value() == "from-env"


def test_no_channels_is_an_error(write_config: WriteConfig) -> None:
    text = CONFIG.split("[[channels]]")[0]
    with pytest.raises(ConfigError, match=r"channels: missing key"):
        load(write_config(text))


def test_a_toml_syntax_error_names_the_line(write_config: WriteConfig) -> None:
    path = write_config(CONFIG.replace("port = 0", "port = = 0"))
    with pytest.raises(ConfigError, match=r"invalid TOML: .*line 10"):
        load(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere.toml: file not found"):
        load(tmp_path / "nowhere.toml")


def test_a_deployments_own_reply_texts_are_checked_at_start(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    folder = tmp_path / "texts"
    folder.mkdir()
    english = (REPO / "templates" / "en.toml").read_text(encoding="utf-8")
    (folder / "en.toml").write_text(english.replace("help = ", "helpp = "), encoding="utf-8")
    settings = load(write_config(CONFIG + '\n[citizens]\ntemplates_dir = "texts"\n'))
    assert settings.citizens.templates_dir == folder

    with pytest.raises(ConfigError, match=r"en\.toml"):
        Gateway(settings)
