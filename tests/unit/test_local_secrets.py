"""The local stack's secrets file: read by pydantic-settings from the file alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deskpemilu.runtime import GENERATED_SECRETS
from shared.settings import LocalSecrets


def test_the_generated_secrets_are_the_fields_read_back() -> None:
    assert GENERATED_SECRETS == (
        "DESKPEMILU_TOKEN_SECRET",
        "WHATSAPP_APP_SECRET",
        "WHATSAPP_VERIFY_TOKEN",
        "SMS_AUTH_TOKEN",
    )


def test_reads_the_file_and_ignores_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secrets.env"
    path.write_text("DESKPEMILU_TOKEN_SECRET=from-the-file\nSMS_AUTH_TOKEN= padded \nOTHER=x\n")
    monkeypatch.setenv("DESKPEMILU_TOKEN_SECRET", "from-the-environment")
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "from-the-environment")
    assert LocalSecrets.read(path).as_environment() == {
        "DESKPEMILU_TOKEN_SECRET": "from-the-file",
        "SMS_AUTH_TOKEN": "padded",
    }


def test_a_missing_file_holds_no_secrets(tmp_path: Path) -> None:
    assert LocalSecrets.read(tmp_path / "absent.env").as_environment() == {}


def test_load_local_environment_generates_once_and_never_overrides(tmp_path: Path) -> None:
    script = (
        "import os, json; from deskpemilu import runtime; runtime.load_local_environment(); "
        "print(json.dumps({k: os.environ[k] for k in runtime.GENERATED_SECRETS}))"
    )
    env = {k: v for k, v in os.environ.items() if k not in GENERATED_SECRETS}
    env["RUN_DIR"] = str(tmp_path)

    def run(**extra: str) -> dict[str, str]:
        done = subprocess.run(
            [sys.executable, "-c", script], env=env | extra, capture_output=True, check=True
        )
        values: dict[str, str] = json.loads(done.stdout)
        return values

    first = run()
    assert len(set(first.values())) == 4 and all(len(v) >= 32 for v in first.values())
    assert (tmp_path / "secrets.env").stat().st_mode & 0o777 == 0o600
    assert run() == first  # kept, not generated again
    assert run(SMS_AUTH_TOKEN="set-here")["SMS_AUTH_TOKEN"] == "set-here"
    assert LocalSecrets.read(tmp_path / "secrets.env").as_environment() == first
