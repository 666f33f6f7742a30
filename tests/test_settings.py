"""lib/settings.py: environment over secrets file, conversions, errors, the key kept private."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
from seedscope.settings import Settings, SettingsError, base_url_host, load_settings

KEY = "sk-test-0123456789abcdef"


def write_secrets(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "secrets.toml"
    path.write_text(text)
    return path


def refused(env: dict[str, str], secrets_path: Path | None = None) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(env=env, secrets_path=secrets_path)
    return str(caught.value)


def test_defaults_without_env_or_file(tmp_path):
    settings = load_settings(env={}, secrets_path=tmp_path / "missing.toml")
    assert settings == Settings()
    assert settings.openai_configured is False
    assert settings.remote_concurrency == 8
    assert settings.allowed_providers == ("local", "openai")
    assert settings.lock_base_url is False


def test_environment_wins_over_secrets_file(tmp_path):
    secrets = write_secrets(
        tmp_path,
        f'OPENAI_API_KEY = "{KEY}"\nOPENAI_MODEL = "from-file"\nSEEDSCOPE_MAX_TOKENS = 300\n',
    )
    settings = load_settings(env={"OPENAI_MODEL": "from-env"}, secrets_path=secrets)
    assert settings.openai_model == "from-env"
    assert settings.openai_api_key == KEY
    assert settings.max_tokens_limit == 300


def test_os_environ_is_the_default_environment(monkeypatch):
    monkeypatch.setenv("SEEDSCOPE_REMOTE_CONCURRENCY", "3")
    assert load_settings(secrets_path=None).remote_concurrency == 3


def test_settings_built_directly_read_nothing(monkeypatch):
    # Tests and callers build Settings(...) by attribute name; only load_settings reads the env.
    monkeypatch.setenv("OPENAI_MODEL", "from-env")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    settings = Settings(max_tokens_limit=7)
    assert settings.openai_model == "gpt-4o-mini"
    assert settings.openai_api_key is None
    assert settings.max_tokens_limit == 7


def test_values_are_converted(tmp_path):
    env = {
        "OPENAI_TIMEOUT": "2.5",
        "OPENAI_MAX_RETRIES": "0",
        "SEEDSCOPE_REMOTE_CONCURRENCY": "16",
        "SEEDSCOPE_N_THREADS": "2",
        "SEEDSCOPE_ALLOWED_PROVIDERS": " local ",
        "SEEDSCOPE_LOCK_BASE_URL": "yes",
        "SEEDSCOPE_MODEL_PATH": "  /models/x.gguf ",
        "OPENAI_BASE_URL": "   ",  # blank means unset
        "UNRELATED_VARIABLE": "ignored",
    }
    settings = load_settings(env=env, secrets_path=None)
    assert settings.openai_timeout == 2.5
    assert settings.openai_max_retries == 0
    assert settings.remote_concurrency == 16
    assert settings.local_n_threads == 2
    assert settings.allowed_providers == ("local",)
    assert settings.lock_base_url is True
    assert settings.local_model_path == "/models/x.gguf"
    assert settings.openai_base_url is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("TRUE", True), ("on", True), ("1", True), ("false", False), ("no", False)],
)
def test_boolean_words(text, expected):
    settings = load_settings(env={"SEEDSCOPE_LOCK_BASE_URL": text}, secrets_path=None)
    assert settings.lock_base_url is expected


def test_secrets_file_accepts_native_toml_types_and_ignores_other_tables(tmp_path):
    secrets = write_secrets(
        tmp_path,
        'SEEDSCOPE_ALLOWED_PROVIDERS = ["openai"]\nSEEDSCOPE_LOCK_BASE_URL = true\n'
        "OPENAI_TIMEOUT = 5\n"
        'SOMETHING_ELSE = "not ours"\n'
        '[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n',
    )
    settings = load_settings(env={}, secrets_path=secrets)
    assert settings.allowed_providers == ("openai",)
    assert settings.lock_base_url is True
    assert settings.openai_timeout == 5.0


ACCEPTED_BOOLEANS = "use true/false, yes/no, on/off or 1/0"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        # Strict booleans: a typo must not silently mean false (this one locks the base URL).
        (
            {"SEEDSCOPE_LOCK_BASE_URL": "ture"},
            "SEEDSCOPE_LOCK_BASE_URL='ture' (from environment) is not a boolean; "
            f"{ACCEPTED_BOOLEANS} (default false)",
        ),
        (
            {"SEEDSCOPE_LOCK_BASE_URL": "2"},
            f"SEEDSCOPE_LOCK_BASE_URL='2' (from environment) is not a boolean; {ACCEPTED_BOOLEANS}",
        ),
        (
            {"SEEDSCOPE_MAX_TOKENS": "lots"},
            "SEEDSCOPE_MAX_TOKENS='lots' (from environment) is not a whole number (default 1024)",
        ),
        ({"SEEDSCOPE_N_CTX": "2.5"}, "SEEDSCOPE_N_CTX='2.5' (from environment) is not a whole"),
        ({"OPENAI_TIMEOUT": "soon"}, "OPENAI_TIMEOUT='soon' (from environment) is not a number"),
        ({"OPENAI_TIMEOUT": "nan"}, "OPENAI_TIMEOUT='nan' (from environment) is not a number"),
        ({"OPENAI_TIMEOUT": "0"}, "OPENAI_TIMEOUT='0' (from environment) must be greater than 0"),
        (
            {"SEEDSCOPE_REMOTE_CONCURRENCY": "-2"},
            "SEEDSCOPE_REMOTE_CONCURRENCY='-2' (from environment) must be greater than 0",
        ),
        ({"SEEDSCOPE_MAX_RUNS_PER_ARM": "0"}, "SEEDSCOPE_MAX_RUNS_PER_ARM='0' (from environment)"),
        (
            {"SEEDSCOPE_N_THREADS": "0"},
            "SEEDSCOPE_N_THREADS='0' (from environment) must be greater",
        ),
        (
            {"SEEDSCOPE_LOCAL_WORKERS": "0"},
            "SEEDSCOPE_LOCAL_WORKERS='0' (from environment) must be between 1 and 16: each "
            "worker process loads its own copy of the embedded model, so use at most one per "
            "CPU core (default 1)",
        ),
        (
            {"SEEDSCOPE_LOCAL_WORKERS": "17"},
            "SEEDSCOPE_LOCAL_WORKERS='17' (from environment) must be between 1 and 16",
        ),
        (
            {"SEEDSCOPE_LOCAL_WORKERS": "two"},
            "SEEDSCOPE_LOCAL_WORKERS='two' (from environment) is not a whole number",
        ),
        (
            {"OPENAI_MAX_RETRIES": "-1"},
            "OPENAI_MAX_RETRIES='-1' (from environment) must be 0 or more (default 2)",
        ),
        (
            {"SEEDSCOPE_COST_CONFIRM_TOKENS": "-5"},
            "SEEDSCOPE_COST_CONFIRM_TOKENS='-5' (from environment) must be 0 or more",
        ),
        (
            {"SEEDSCOPE_ALLOWED_PROVIDERS": "local,bedrock"},
            "SEEDSCOPE_ALLOWED_PROVIDERS='local,bedrock' (from environment) is not valid: "
            "use a comma-separated list of 'local' and 'openai'",
        ),
        (
            {"SEEDSCOPE_ALLOWED_PROVIDERS": ","},
            "SEEDSCOPE_ALLOWED_PROVIDERS=',' (from environment)",
        ),
    ],
)
def test_bad_environment_values_name_the_setting(env, message):
    assert message in refused(env)


def test_every_bad_value_is_reported_at_once():
    message = refused({"SEEDSCOPE_MAX_TOKENS": "x", "SEEDSCOPE_LOCK_BASE_URL": "ture"})
    assert "SEEDSCOPE_MAX_TOKENS='x'" in message
    assert "SEEDSCOPE_LOCK_BASE_URL='ture'" in message


def test_bad_secrets_file_values_name_the_setting_and_the_file(tmp_path):
    secrets = write_secrets(
        tmp_path,
        'SEEDSCOPE_LOCK_BASE_URL = "ture"\nSEEDSCOPE_MAX_TOKENS = 2.5\n'
        'SEEDSCOPE_ALLOWED_PROVIDERS = ["local", "bedrock"]\nOPENAI_MODEL = 4\n',
    )
    message = refused({}, secrets)
    assert f"SEEDSCOPE_LOCK_BASE_URL='ture' (from {secrets}) is not a boolean" in message
    assert f"SEEDSCOPE_MAX_TOKENS=2.5 (from {secrets}) is not a whole number" in message
    assert f"SEEDSCOPE_ALLOWED_PROVIDERS=['local', 'bedrock'] (from {secrets})" in message
    assert f"OPENAI_MODEL=4 (from {secrets}) is not text; quote it" in message


def test_a_good_environment_value_hides_a_bad_one_in_the_file(tmp_path):
    secrets = write_secrets(tmp_path, "SEEDSCOPE_N_CTX = 0\n")
    assert "SEEDSCOPE_N_CTX=0 (from" in refused({}, secrets)
    assert load_settings(env={"SEEDSCOPE_N_CTX": "64"}, secrets_path=secrets).local_n_ctx == 64


def test_broken_secrets_file_is_reported(tmp_path):
    secrets = write_secrets(tmp_path, "OPENAI_API_KEY = \n")
    message = refused({}, secrets)
    assert message.startswith(f"{secrets} is not valid TOML: ")
    assert "line 1" in message


def test_secret_values_are_never_quoted_in_messages(tmp_path):
    secrets = write_secrets(
        tmp_path,
        f'OPENAI_API_KEY = ["{KEY}"]\nSEEDSCOPE_DATABASE_URL = ["postgresql://u:pw@db/x"]\n',
    )
    message = refused({}, secrets)
    assert f"OPENAI_API_KEY (from {secrets}) is not text" in message
    assert "SEEDSCOPE_DATABASE_URL (from" in message
    assert KEY not in message
    assert "pw@db" not in message


def test_api_key_never_in_repr(tmp_path):
    settings = load_settings(env={"OPENAI_API_KEY": KEY}, secrets_path=None)
    assert settings.openai_configured
    assert KEY not in repr(settings)
    assert KEY not in str(settings)


def test_settings_are_immutable_and_hashable():
    settings = load_settings(env={"SEEDSCOPE_N_CTX": "64"}, secrets_path=None)
    with pytest.raises(pydantic.ValidationError):
        settings.local_n_ctx = 128  # type: ignore[misc]
    assert hash(settings) == hash(Settings(local_n_ctx=64))
    assert {settings, Settings(local_n_ctx=64)} == {settings}
    assert type(settings) is Settings  # st.cache_resource's hash_funcs match the exact type


def test_unknown_attribute_is_refused_when_built_directly():
    with pytest.raises(pydantic.ValidationError, match="max_tokens"):
        Settings(max_tokens=5)  # type: ignore[call-arg]


def test_base_url_alone_configures_the_remote_backend():
    settings = load_settings(env={"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}, secrets_path=None)
    assert settings.openai_configured
    assert settings.base_url_host == "127.0.0.1:8000"


def test_base_url_host_drops_credentials_and_path():
    assert base_url_host("https://user:secret@example.com:8443/v1?x=1") == "example.com:8443"
    assert base_url_host("https://api.openai.com/v1") == "api.openai.com"
    assert base_url_host(None) is None
    assert base_url_host("") is None


def test_suite_limits_default_convert_and_reach_the_spec_limits(tmp_path):
    from seedscope.spec import Limits

    defaults = load_settings(env={}, secrets_path=None)
    assert (defaults.max_cases, defaults.max_suite_runs) == (1000, 20000)
    assert Limits.from_settings(defaults) == Limits()  # the same defaults in both places
    env = {"SEEDSCOPE_MAX_CASES": "50", "SEEDSCOPE_MAX_SUITE_RUNS": "600"}
    limits = Limits.from_settings(load_settings(env=env, secrets_path=None))
    assert (limits.max_cases, limits.max_suite_runs) == (50, 600)
    assert "SEEDSCOPE_MAX_CASES='0' (from environment) must be greater than 0 (default 1000)" in (
        refused({"SEEDSCOPE_MAX_CASES": "0"})
    )
    assert "SEEDSCOPE_MAX_SUITE_RUNS='many' (from environment) is not a whole number" in (
        refused({"SEEDSCOPE_MAX_SUITE_RUNS": "many"})
    )


# --- shared mode: SEEDSCOPE_SHARED, SEEDSCOPE_ALLOWED_BASE_URLS, STREAMLIT_SERVER_ADDRESS ------

BASE_URL_LIST_HELP = (
    "use a comma-separated list of http(s) URL prefixes, e.g. "
    "https://llm.example.com/v1,http://10.0.0.5:8000/v1"
)


def test_shared_mode_is_off_with_no_allowed_base_urls_by_default():
    settings = load_settings(env={}, secrets_path=None)
    assert settings.shared is False
    assert settings.allowed_base_urls == ()
    assert settings.streamlit_server_address is None
    assert settings.shared_mode is False


def test_shared_settings_are_converted_from_the_environment():
    env = {
        "SEEDSCOPE_SHARED": "on",
        "SEEDSCOPE_ALLOWED_BASE_URLS": " https://llm.example.com/v1 , http://10.0.0.5:8000/v1 ,",
    }
    settings = load_settings(env=env, secrets_path=None)
    assert settings.shared is True and settings.shared_mode is True
    assert settings.allowed_base_urls == ("https://llm.example.com/v1", "http://10.0.0.5:8000/v1")
    blank = load_settings(env={"SEEDSCOPE_ALLOWED_BASE_URLS": " "}, secrets_path=None)
    assert blank.allowed_base_urls == ()


def test_shared_settings_from_the_secrets_file_but_the_server_address_only_from_env(tmp_path):
    secrets = write_secrets(
        tmp_path,
        "SEEDSCOPE_SHARED = true\n"
        'SEEDSCOPE_ALLOWED_BASE_URLS = ["https://a.example/v1", "http://[::1]:8000"]\n'
        'STREAMLIT_SERVER_ADDRESS = "0.0.0.0"\n',
    )
    settings = load_settings(env={}, secrets_path=secrets)
    assert settings.shared is True
    assert settings.allowed_base_urls == ("https://a.example/v1", "http://[::1]:8000")
    assert settings.streamlit_server_address is None  # Streamlit does not read our secrets
    assert load_settings(env={"STREAMLIT_SERVER_ADDRESS": "0.0.0.0"}, secrets_path=None).shared_mode


@pytest.mark.parametrize(
    ("address", "shared_mode"),
    [
        ("127.0.0.1", False),
        ("127.0.1.1", False),
        ("localhost", False),
        ("LOCALHOST", False),
        ("::1", False),
        ("[::1]", False),
        ("::ffff:127.0.0.1", False),
        ("  ", False),  # blank means unset: Streamlit's own default applies
        ("0.0.0.0", True),
        ("::", True),
        ("192.168.1.5", True),
        ("10.0.0.2", True),
        ("seedscope.example.com", True),
    ],
)
def test_a_non_loopback_streamlit_address_switches_shared_mode_on(address, shared_mode):
    settings = load_settings(env={"STREAMLIT_SERVER_ADDRESS": address}, secrets_path=None)
    assert settings.shared_mode is shared_mode
    assert settings.shared is False


def test_seedscope_shared_is_a_strict_boolean():
    assert refused({"SEEDSCOPE_SHARED": "ture"}) == (
        f"SEEDSCOPE_SHARED='ture' (from environment) is not a boolean; {ACCEPTED_BOOLEANS} "
        "(default false)"
    )
    assert "SEEDSCOPE_SHARED='2' (from environment) is not a boolean" in refused(
        {"SEEDSCOPE_SHARED": "2"}
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("ftp://files.example/v1", "entry 1: not an http(s) URL with a host"),
        ("https://ok.example/v1,llm.example/v1", "entry 2: not an http(s) URL with a host"),
        ("https:///v1", "entry 1: not an http(s) URL with a host"),
        ("https://llm.example:99999/v1", "entry 1: not a URL, or its port is not a number"),
        ("https://llm.example/v1?key=1", "entry 1: https://llm.example/v1 has a query or fragment"),
        ("https://llm.example/v1#x", "entry 1: https://llm.example/v1 has a query or fragment"),
        ("https://llm.example/v1/../admin", "entry 1: https://llm.example/v1/../admin has . or .."),
        (
            "https://user:pa55@llm.example/v1",
            "entry 1: https://llm.example/v1 has user info (user:password@); leave it out",
        ),
    ],
)
def test_bad_allowed_base_urls_name_the_entry_and_what_is_accepted(value, problem):
    message = refused({"SEEDSCOPE_ALLOWED_BASE_URLS": value})
    assert message.startswith(
        f"SEEDSCOPE_ALLOWED_BASE_URLS (from environment) is not valid ({problem}"
    )
    assert message.endswith(BASE_URL_LIST_HELP)
    assert "pa55" not in message and "key=1" not in message  # never quoted: URLs carry secrets


def test_allowed_base_urls_in_the_secrets_file_must_be_a_list_of_text(tmp_path):
    secrets = write_secrets(tmp_path, "SEEDSCOPE_ALLOWED_BASE_URLS = 5\n")
    message = refused({}, secrets)
    assert message == (
        f"SEEDSCOPE_ALLOWED_BASE_URLS (from {secrets}) is not valid (not a list): "
        f"{BASE_URL_LIST_HELP}"
    )
