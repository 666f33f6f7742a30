"""lib/settings.py: environment over secrets file, conversions, errors, the key kept private."""

from __future__ import annotations

from pathlib import Path

import pytest
from seedscope.settings import Settings, SettingsError, base_url_host, load_settings

KEY = "sk-test-0123456789abcdef"


def write_secrets(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "secrets.toml"
    path.write_text(text)
    return path


def test_defaults_without_env_or_file(tmp_path):
    settings = load_settings(env={}, secrets_path=tmp_path / "missing.toml")
    assert settings == Settings()
    assert settings.openai_configured is False
    assert settings.remote_concurrency == 8
    assert settings.allowed_providers == ("local", "openai")


def test_environment_wins_over_secrets_file(tmp_path):
    secrets = write_secrets(
        tmp_path,
        f'OPENAI_API_KEY = "{KEY}"\nOPENAI_MODEL = "from-file"\nSEEDSCOPE_MAX_TOKENS = 300\n',
    )
    settings = load_settings(env={"OPENAI_MODEL": "from-env"}, secrets_path=secrets)
    assert settings.openai_model == "from-env"
    assert settings.openai_api_key == KEY
    assert settings.max_tokens_limit == 300


def test_values_are_converted(tmp_path):
    env = {
        "OPENAI_TIMEOUT": "2.5",
        "OPENAI_MAX_RETRIES": "0",
        "SEEDSCOPE_REMOTE_CONCURRENCY": "16",
        "SEEDSCOPE_N_THREADS": "2",
        "SEEDSCOPE_ALLOWED_PROVIDERS": "local",
        "SEEDSCOPE_LOCK_BASE_URL": "yes",
        "SEEDSCOPE_MODEL_PATH": "  /models/x.gguf ",
        "OPENAI_BASE_URL": "   ",  # blank means unset
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


def test_secrets_file_accepts_native_toml_types(tmp_path):
    secrets = write_secrets(
        tmp_path, 'SEEDSCOPE_ALLOWED_PROVIDERS = ["openai"]\nSEEDSCOPE_LOCK_BASE_URL = true\n'
    )
    settings = load_settings(env={}, secrets_path=secrets)
    assert settings.allowed_providers == ("openai",)
    assert settings.lock_base_url is True


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"SEEDSCOPE_MAX_TOKENS": "lots"}, "SEEDSCOPE_MAX_TOKENS='lots' is not a valid int"),
        ({"OPENAI_TIMEOUT": "0"}, "OPENAI_TIMEOUT='0' must be greater than 0"),
        ({"SEEDSCOPE_REMOTE_CONCURRENCY": "-2"}, "SEEDSCOPE_REMOTE_CONCURRENCY='-2' must be"),
        ({"OPENAI_MAX_RETRIES": "-1"}, "OPENAI_MAX_RETRIES must be 0 or more"),
        ({"SEEDSCOPE_ALLOWED_PROVIDERS": "local,bedrock"}, "'local' and 'openai'"),
        ({"SEEDSCOPE_ALLOWED_PROVIDERS": ","}, "SEEDSCOPE_ALLOWED_PROVIDERS"),
    ],
)
def test_bad_values_name_the_setting(env, fragment):
    with pytest.raises(SettingsError) as caught:
        load_settings(env=env, secrets_path=None)
    assert fragment in str(caught.value)


def test_broken_secrets_file_is_reported(tmp_path):
    secrets = write_secrets(tmp_path, "OPENAI_API_KEY = \n")
    with pytest.raises(SettingsError, match="is not valid TOML"):
        load_settings(env={}, secrets_path=secrets)


def test_api_key_never_in_repr(tmp_path):
    settings = load_settings(env={"OPENAI_API_KEY": KEY}, secrets_path=None)
    assert settings.openai_configured
    assert KEY not in repr(settings)
    assert KEY not in str(settings)


def test_base_url_alone_configures_the_remote_backend():
    settings = load_settings(env={"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}, secrets_path=None)
    assert settings.openai_configured
    assert settings.base_url_host == "127.0.0.1:8000"


def test_base_url_host_drops_credentials_and_path():
    assert base_url_host("https://user:secret@example.com:8443/v1?x=1") == "example.com:8443"
    assert base_url_host("https://api.openai.com/v1") == "api.openai.com"
    assert base_url_host(None) is None
    assert base_url_host("") is None
