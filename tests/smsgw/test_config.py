from __future__ import annotations

import os
import subprocess
import sys
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


def test_the_smallest_config_spec_shows_loads_on_its_defaults(tmp_path: Path) -> None:
    """Only what has no default: [gateway] short_code and one [[channels]] table."""
    path = tmp_path / "minimal.toml"
    path.write_text(
        '[gateway]\nshort_code = "1515"\n\n[[channels]]\nname = "btl-1"\ncarrier = "btl"\n'
        'host = "127.0.0.1"\nport = 2775\nsystem_id = "smsgw"\npassword = "x"\n',
        encoding="utf-8",
    )
    settings = load(path)
    assert settings.gateway.data_dir == tmp_path / "data"
    assert settings.database.sqlite_path == tmp_path / "data" / "smsgw.db"


def test_an_absolute_database_path_is_kept(write_config: WriteConfig) -> None:
    text = CONFIG.replace("sqlite:///data/test.db", "sqlite:////var/lib/smsgw/smsgw.db")
    assert load(write_config(text)).database.sqlite_path == Path("/var/lib/smsgw/smsgw.db")


def test_a_postgresql_url_is_kept_and_its_password_never_shown(write_config: WriteConfig) -> None:
    url = "postgresql://smsgw:s3cret@db.gov.bz:5432/smsgw"
    database = load(write_config(CONFIG.replace("sqlite:///data/test.db", url))).database
    assert (database.url, database.is_postgres) == (url, True)
    assert database.where == "postgresql://smsgw@db.gov.bz:5432/smsgw"
    with pytest.raises(ConfigError, match="no SQLite file"):
        _ = database.sqlite_path


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
        (("sqlite:///data/test.db", "postgresql://db"),
         "database.url: expected postgresql://user@host:port/database"),
        (("sqlite:///data/test.db", "mysql://db/smsgw"), "database.url: expected sqlite:///"),
        (('name = "smart-1"', 'name = "btl-1"'), "channels: channel names must be unique"),
        (('password = "secret"\nprefixes = ["+50165"]',
          'password_env = "SMSGW_TEST_UNSET_VARIABLE"\nprefixes = ["+50165"]'),
         "channels[1]: environment variable SMSGW_TEST_UNSET_VARIABLE is not set"),
        (("[http]", "[htp]"), "htp: unknown key"),
    ],
    ids=["unknown-key", "missing-key", "bad-value", "bad-prefix", "bad-timezone",
         "bad-region", "postgresql-without-database", "other-scheme", "duplicate-name",
         "missing-env", "unknown-table"],
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


# (where, what to write there, the problem named): ``where`` is a line of CONFIG to replace,
# or a table name to append with the line. One section after another, every kind of wrong type.
WRONG_TYPES = {
    "gateway-number-for-string": ('short_code = "1515"', "short_code = 1515",
                                  "gateway.short_code: Input should be a valid string"),
    "gateway-list-for-string": ('timezone = "America/Belize"', 'timezone = ["America/Belize"]',
                                "gateway.timezone: Input should be a valid string"),
    "gateway-table-for-path": ('data_dir = "data"', 'data_dir = { path = "data" }',
                               "gateway.data_dir: Input should be a valid string"),
    "gateway-list-for-table": ("[gateway]", "[[gateway]]", "gateway: Input should be an object"),
    "http-quoted-number": ("port = 0", 'port = "8080"',
                           "http.port: Input should be a valid integer"),
    "http-bool-for-number": ("port = 0", "port = true",
                             "http.port: Input should be a valid integer"),
    "http-fraction-for-integer": ("port = 0", "port = 80.5",
                                  "http.port: Input should be a valid integer"),
    "http-negative-limit": ("port = 0", "port = 0\nfailed_auth_limit = -1",
                            "http.failed_auth_limit: Input should be greater than or equal to 1"),
    "http-unknown-key": ("port = 0", "port = 0\nport_number = 1",
                         "http.port_number: unknown key"),
    "database-number-for-string": ('url = "sqlite:///data/test.db"', "url = 5",
                                   "database.url: Input should be a valid string"),
    "citizens-number-for-table": ("[gateway]", "citizens = 5\n[gateway]",
                                  "citizens: Input should be an object"),
    "channels-quoted-number": ("port = 2775", 'port = "2775"',
                               "channels[0].port: Input should be a valid integer"),
    "channels-bool-for-string": ('carrier = "btl"', "carrier = true",
                                 "channels[0].carrier: Input should be a valid string"),
    "channels-string-for-list": ('prefixes = ["+50165"]', 'prefixes = "+50165"',
                                 "channels[1].prefixes: Input should be a valid array"),
    "channels-negative-interval": ('carrier = "smart"', 'carrier = "smart"\nthrottle_pause_s = -1',
                                   "channels[1].throttle_pause_s: Input should be greater than 0"),
    "channels-unknown-choice": ('carrier = "smart"', 'carrier = "smart"\nbind = "both"',
                                "channels[1].bind: Input should be 'transceiver' or"),
    "citizens-quoted-number": ("citizens", 'reply_limit = "5"',
                               "citizens.reply_limit: Input should be a valid integer"),
    "citizens-negative-window": ("citizens", "reply_window_s = -600",
                                 "citizens.reply_window_s: Input should be greater than 0"),
    "citizens-infinite-window": ("citizens", "duplicate_window_s = inf",
                                 "citizens.duplicate_window_s: Input should be a finite number"),
    "citizens-number-for-string": ("citizens", "programme = 5",
                                   "citizens.programme: Input should be a valid string"),
    "citizens-unknown-key": ("citizens", "reply_limt = 5", "citizens.reply_limt: unknown key"),
    "broadcasts-negative-cost": ("broadcasts", "cost_per_segment = -0.05",
                                 "broadcasts.cost_per_segment: Input should be greater than or"),
    "broadcasts-string-for-list": ("broadcasts", 'quiet_hours = "21:00-07:00"',
                                   "broadcasts.quiet_hours: Input should be a valid array"),
    "broadcasts-bad-time": ("broadcasts", 'quiet_hours = ["25:00", "07:00"]',
                            "broadcasts.quiet_hours[0]: Input should be in a valid time format"),
    "broadcasts-fraction-for-integer": ("broadcasts", "max_segments = 6.5",
                                        "broadcasts.max_segments: Input should be a valid integer"),
    "kpis-string-for-date": ("kpis", 'programme_start = "soon"',
                             "kpis.programme_start: Input should be a valid date"),
    "kpis-number-for-list": ("kpis", "services = 10",
                             "kpis.services: Input should be a valid array"),
    "kpis-negative-target": ("kpis", "subscribers = [-1]",
                             "kpis.subscribers[0]: Input should be greater than or equal to 0"),
    "simulator-list-for-table": ("simulator", 'accounts = ["smsgw-btl"]',
                                 "simulator.accounts: Input should be an object"),
    "simulator-negative-rate": ("simulator", "tps = -1",
                                "simulator.tps: Input should be greater than or equal to 0"),
    "simulator-string-for-number": ("simulator", 'receipt_delay_s = "1s"',
                                    "simulator.receipt_delay_s: Input should be a valid number"),
    "simulator-unknown-key": ("simulator", "bogus = 1", "simulator.bogus: unknown key"),
    "simulator-infinite-delay": ("simulator", "response_delay_s = inf",
                                 "simulator.response_delay_s: Input should be a finite number"),
    "channels-infinite-timeout": ('carrier = "smart"',
                                  'carrier = "smart"\nresponse_timeout_s = inf',
                                  "channels[1].response_timeout_s: Input should be a finite"),
}  # fmt: skip


def _with(where: str, line: str, text: str = CONFIG) -> str:
    if where.isidentifier():
        return f"{text}\n[{where}]\n{line}\n"
    assert where in text
    return text.replace(where, line, 1)


@pytest.mark.parametrize(("where", "line", "problem"), WRONG_TYPES.values(), ids=WRONG_TYPES)
def test_a_wrong_type_names_the_file_the_key_and_the_problem(
    write_config: WriteConfig, where: str, line: str, problem: str
) -> None:
    path = write_config(_with(where, line))
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert f"{path}: {problem}" in str(caught.value).splitlines()[0]


def test_run_with_a_wrong_type_in_every_section_exits_2_naming_each(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    firsts: dict[str, tuple[str, str, str]] = {}  # one case per section: no key written twice
    for where, line, problem in WRONG_TYPES.values():
        firsts.setdefault(problem.split(":")[0].split(".")[0].split("[")[0], (where, line, problem))
    assert len(firsts) == 8
    text = CONFIG
    for where, line, _ in firsts.values():
        text = _with(where, line, text)
    write_config(text)

    result = subprocess.run(  # our own command, fixed arguments
        [sys.executable, "-m", "smsgw", "run", "--config", "config.toml"],
        cwd=tmp_path, env=os.environ | {"PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip

    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    for _, _, problem in firsts.values():
        assert f"config.toml: {problem}" in result.stderr


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        ('[alerts]\nexercise_numbers = ["12345"]', "alerts.exercise_numbers: '12345'"
         " is not a valid number"),
        ('[[alerts.routes]]\nservice = "HURRICANE"', "alerts.routes[0]: a route"
         " needs at least one of event, sender, category"),
        ('[[alerts.routes]]\ncategory = "Weather"\nservice = "H"', "alerts.routes[0].category:"
         " not a CAP category"),
        ('[[alerts.feeds]]\nname = "nms"\nurl = "ftp://x"', "alerts.feeds[0].url: String should"
         " match pattern"),
        ('[[alerts.feeds]]\nname = "nms"\nurl = "https://a/f"\n[[alerts.feeds]]\nname = "nms"\n'
         'url = "https://b/f"', "alerts.feeds: two feeds have one name (give each a name)"),
        ('[districts]\nnames = ["North", "South"]\naliases = {East = ["E"]}',
         "districts: aliases: East is not one of the names"),
        ('[districts]\nnames = ["North", "South"]\naliases = {North = ["South"]}',
         "districts: 'South' names both North and South"),
        ('[districts]\nnames = ["North, upper"]',
         "districts.names: 'North, upper': a district's name has no comma"),
    ],
    ids=["exercise-number", "route-without-match", "category", "feed-url", "feed-names",
         "district-unknown", "district-clash", "district-comma"],
)  # fmt: skip
def test_a_bad_alerts_or_districts_table_names_the_key(
    write_config: WriteConfig, alerts: str, message: str
) -> None:
    path = write_config(CONFIG + "\n" + alerts + "\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert f"{path}: {message}" in str(caught.value)


def test_a_feed_without_a_name_is_named_by_its_host(write_config: WriteConfig) -> None:
    text = CONFIG + '\n[[alerts.feeds]]\nurl = "https://hydromet.gov.bz/cap/feed.atom"\n'
    [feed] = load(write_config(text)).alerts.feeds
    assert (feed.label, feed.every_s) == ("hydromet.gov.bz", 60)


def test_the_exercise_list_is_kept_in_e164(write_config: WriteConfig) -> None:
    text = CONFIG + '\n[alerts]\nexercise_numbers = ["+501 600-1001", "+5016001001"]\n'
    assert load(write_config(text)).alerts.exercise_numbers == ("+5016001001",)


def test_districts_default_to_belizes_and_a_country_names_its_own(
    write_config: WriteConfig,
) -> None:
    belize = load(write_config(CONFIG)).district_index()
    assert belize.names == ("Corozal", "Orange Walk", "Belize", "Cayo", "Stann Creek", "Toledo")
    assert (belize.find("punta gorda"), belize.of_code("BZ-SC")) == ("Toledo", "Stann Creek")
    own = '\n[districts]\nnames = ["North", "South"]\naliases = {South = ["Sur"]}\n'
    districts = load(write_config(CONFIG + own)).district_index()
    assert (districts.names, districts.find("SUR"), districts.find("Toledo")) == (
        ("North", "South"), "South", None)  # fmt: skip
