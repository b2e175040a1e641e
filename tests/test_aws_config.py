"""AWS settings are boto3's own (AWS_REGION included), timeouts are deliberate, and the CLI starts light."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from outbox_triggers import defaults
from outbox_triggers.errors import DestinationError
from outbox_triggers.publishers.aws import client, describe

from .conftest import Project

REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_MAX_ATTEMPTS")


@pytest.fixture
def no_region(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No region or profile in the environment, and an empty AWS config file."""
    for name in REGION_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "aws-config"
    config.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    return config


def test_aws_region_alone_is_enough(no_region: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert client("sqs", 1).meta.region_name == "eu-west-1"


def test_aws_default_region_wins_over_aws_region(no_region: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert client("sqs", 1).meta.region_name == "us-west-2"


def test_a_profile_gives_the_region_and_the_retries(no_region: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_region.write_text("[profile shop]\nregion = ap-south-1\nmax_attempts = 4\n")
    monkeypatch.setenv("AWS_PROFILE", "shop")
    sqs = client("sqs", 1)
    assert sqs.meta.region_name == "ap-south-1"
    assert sqs.meta.config.retries["total_max_attempts"] == 4


def test_no_region_names_both_variables(no_region: Path) -> None:
    with pytest.raises(DestinationError) as failed:
        client("sqs", 1)
    assert "AWS_REGION" in str(failed.value) and "AWS_DEFAULT_REGION" in str(failed.value)


def test_timeouts_are_set_and_one_attempt_unless_configured(
    no_region: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    config = client("sqs", 1, defaults.Timeouts(connect=2, read=7)).meta.config
    assert (config.connect_timeout, config.read_timeout) == (2, 7)
    assert config.retries["total_max_attempts"] == 1
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    assert client("sqs", 1).meta.config.retries["total_max_attempts"] == 3


@pytest.mark.parametrize(
    "error",
    [
        botocore.exceptions.ReadTimeoutError(endpoint_url="http://10.1.2.3:4566/queue"),
        botocore.exceptions.ConnectTimeoutError(endpoint_url="https://sqs.eu-west-1.amazonaws.com/"),
        botocore.exceptions.EndpointConnectionError(endpoint_url="https://sqs.eu-west-1.amazonaws.com/"),
        botocore.exceptions.ConnectionClosedError(endpoint_url="http://10.1.2.3:4566/"),
        RuntimeError("boom at https://user:secret@10.1.2.3:4566/x"),
    ],
)
def test_error_descriptions_carry_no_url(error: Exception) -> None:
    text = describe(error)
    assert "://" not in text and "10.1.2.3" not in text and "amazonaws" not in text and "secret" not in text


def test_the_cli_imports_nothing_heavy_before_a_command_needs_it() -> None:
    probe = (
        "import sys, outbox_triggers.cli; "
        "heavy = ('alembic', 'boto3', 'sqlalchemy', 'jsonschema', 'jinja2'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.integration
def test_relay_with_only_aws_region_delivers(live: Project, sqs: Any) -> None:
    live.sql("INSERT INTO orders (total) VALUES (1), (2)")
    env = {k: v for k, v in os.environ.items() if k != "AWS_DEFAULT_REGION"}
    env.update(DATABASE_URL=live.url, OUTBOX_SPEC=str(live.spec_path), AWS_REGION="us-east-1")
    done = subprocess.run(
        [sys.executable, "-m", "outbox_triggers", "relay", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert live.scalar("SELECT COUNT(*) FROM outbox_events") == 0


@pytest.mark.integration
def test_relay_without_a_region_fails_in_one_line(live: Project, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in REGION_VARIABLES}
    (tmp_path / "empty").write_text("")
    env.update(
        DATABASE_URL=live.url, OUTBOX_SPEC=str(live.spec_path), AWS_CONFIG_FILE=str(tmp_path / "empty")
    )
    done = subprocess.run(
        [sys.executable, "-m", "outbox_triggers", "relay", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 4, done.stderr
    assert "FAILED: no AWS region configured: set AWS_REGION or AWS_DEFAULT_REGION" in done.stderr
    assert "Traceback" not in done.stderr
