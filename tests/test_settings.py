"""The one settings object (secondlook.settings): every SECONDLOOK_ variable the code names is a
field of it and documented in docs/deployment.md; values come from the environment or an env
file (the environment wins); an unusable value or an unknown name is refused at start with a
message that names the variable, never a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from secondlook import settings as settings_module
from secondlook.settings import Settings, SettingsError, settings, variables

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "secondlook"
DEPLOYMENT = ROOT / "docs" / "deployment.md"
NAME = re.compile(r"SECONDLOOK_[A-Z0-9_]*[A-Z0-9]")
SECONDLOOK = Path(sys.executable).parent / "secondlook"


def names_in_source() -> set[str]:
    found: set[str] = set()
    for path in SOURCE.rglob("*"):
        if path.suffix in (".py", ".html", ".txt", ".md") and path.is_file():
            found |= set(NAME.findall(path.read_text("utf-8")))
    return found


def test_every_variable_the_code_names_is_a_setting_and_documented() -> None:
    used = names_in_source()
    assert len(used) > 20  # the scan finds the code's variables, not nothing
    assert used - set(variables()) == set(), "not fields of secondlook.settings.Settings"
    documented = set(NAME.findall(DEPLOYMENT.read_text("utf-8")))
    assert set(variables()) - documented == set(), "missing from docs/deployment.md"


def test_every_documented_variable_exists() -> None:
    documented = set(NAME.findall(DEPLOYMENT.read_text("utf-8")))
    assert documented - set(variables()) == set(), "docs/deployment.md names unknown settings"


def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SECONDLOOK_"):
            monkeypatch.delenv(name)


def test_an_env_file_is_read_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_environment(monkeypatch)
    env_file = tmp_path / "secondlook.env"
    env_file.write_text(
        "# the site's settings\n"
        "SECONDLOOK_BASE_URL=https://secondlook.hospital.example\n"
        "SECONDLOOK_WORKERS=4\n"
        "SECONDLOOK_EMERGENCY_NUMBER=112\n",
        "utf-8",
    )
    monkeypatch.setenv("SECONDLOOK_ENV_FILE", str(env_file))
    monkeypatch.setenv("SECONDLOOK_WORKERS", "2")
    current = settings()
    assert current.base_url == "https://secondlook.hospital.example"
    assert current.emergency_number == "112"
    assert current.workers == 2  # the environment wins over the file
    assert current.env_file == env_file
    # An edited file is read again.
    env_file.write_text("SECONDLOOK_EMERGENCY_NUMBER=911\n", "utf-8")
    os.utime(env_file, ns=(1, 1))
    assert settings().emergency_number == "911"
    assert settings().base_url is None


def test_bad_values_name_their_variable_and_hide_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(monkeypatch)
    monkeypatch.setenv("SECONDLOOK_WORKERS", "many")
    monkeypatch.setenv("SECONDLOOK_MAX_BODY_BYTES", "١٠٢٤٠")  # Arabic-Indic digits
    monkeypatch.setenv("SECONDLOOK_LOG_FORMAT", "xml")
    monkeypatch.setenv("SECONDLOOK_METRICS_TOKEN", "short-secret")
    monkeypatch.setenv("SECONDLOOK_SMTP_HOTS", "relay.example.org")
    with pytest.raises(SettingsError) as refused:
        settings()
    message = str(refused.value)
    assert "SECONDLOOK_WORKERS: must be a whole number of processes from 1 to 64" in message
    assert "SECONDLOOK_MAX_BODY_BYTES: must be a whole number of bytes" in message
    assert "SECONDLOOK_LOG_FORMAT: Input should be 'text' or 'json', not 'xml'" in message
    assert "SECONDLOOK_METRICS_TOKEN: must be at least 16 characters" in message
    assert "short-secret" not in message
    assert (
        "SECONDLOOK_SMTP_HOTS is not a SecondLook setting; did you mean SECONDLOOK_SMTP_HOST?"
        in (message)
    )


def test_settings_of_a_mapping_read_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECONDLOOK_SMTP_HOST", "from-the-environment")
    given = Settings.of({"SECONDLOOK_EMERGENCY_NUMBER": "112", "SECONDLOOK_CRISIS_LINES": " "})
    assert (given.emergency_number, given.crisis_lines, given.smtp_host) == ("112", None, None)
    assert settings().smtp_host == "from-the-environment"
    assert "SECONDLOOK_ENV_FILE" in variables()
    assert settings_module.variable("smtp_host") == "SECONDLOOK_SMTP_HOST"


def run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SECONDLOOK), *args],
        cwd=cwd,  # a command that falls back to ./data does so in the test's directory
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serve_and_worker_refuse_a_bad_env_file_at_start(command: str, tmp_path: Path) -> None:
    env_file = tmp_path / "secondlook.env"
    env_file.write_text("SECONDLOOK_TOKEN_LIFETIME_DAYS=forever\nSECONDLOOK_BASEURL=x\n", "utf-8")
    done = run(
        "--env-file", str(env_file), command, "--data-dir", str(tmp_path), env={}, cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr
    assert "SECONDLOOK_TOKEN_LIFETIME_DAYS: must be a whole number of days" in done.stderr
    assert "SECONDLOOK_BASEURL is not a SecondLook setting; did you mean SECONDLOOK_BASE_URL?" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr
    missing = run("--env-file", str(tmp_path / "missing.env"), command, env={}, cwd=tmp_path)
    assert missing.returncode == 2
    assert "no file at" in missing.stderr and "Traceback" not in missing.stderr


def test_the_env_file_reaches_every_command(tmp_path: Path) -> None:
    env_file = tmp_path / "secondlook.env"
    env_file.write_text(f"SECONDLOOK_DATA_DIR={tmp_path / 'site-data'}\n", "utf-8")
    done = run("--env-file", str(env_file), "db", "upgrade", env={}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site-data" / "secondlook.db").is_file()
    # The same through the variable, and an unusable setting a command needs is a clear error.
    again = run("db", "upgrade", env={"SECONDLOOK_ENV_FILE": str(env_file)}, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    bad = run("db", "upgrade", env={"SECONDLOOK_DEBUG": "perhaps"}, cwd=tmp_path)
    assert bad.returncode == 2, bad.stderr
    assert "SECONDLOOK_DEBUG: must be true or false" in bad.stderr
    assert "Traceback" not in bad.stderr
