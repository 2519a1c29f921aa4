"""Structured logging: the JSON fields, the context, redaction and the text format."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from monitor.errors import ConfigurationError
from monitor.logs import HANDLER_NAME, configure_logging, current_context, log_context, redact_text

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhcHAifQ.c2lnbmF0dXJl"
SECRET = "Zq8~s3cr3t.Value_42"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def our_handlers() -> list[logging.Handler]:
    return [handler for handler in logging.getLogger().handlers if handler.get_name() == HANDLER_NAME]


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in our_handlers():
        root.removeHandler(handler)
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


@pytest.fixture
def stream() -> io.StringIO:
    output = io.StringIO()
    configure_logging("json", "DEBUG", output)
    return output


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_record_has_exactly_the_documented_fields(stream: io.StringIO) -> None:
    logging.getLogger("monitor.runner").info("run %s finished", "one")
    [record] = records(stream)
    assert list(record) == ["time", "level", "logger", "message"]
    assert record["level"] == "INFO"
    assert record["logger"] == "monitor.runner"
    assert record["message"] == "run one finished"
    assert record["time"].endswith("Z")
    assert "T" in record["time"]


def test_context_and_extra_fields_are_added(stream: io.StringIO) -> None:
    with log_context(tenant="contoso", check="credential-expiry", run_id="r-1"):
        logging.getLogger("monitor").warning("slow page", extra={"endpoint": "/users", "pages": 3})
    [record] = records(stream)
    assert record == {
        "time": record["time"],
        "level": "WARNING",
        "logger": "monitor",
        "message": "slow page",
        "tenant": "contoso",
        "check": "credential-expiry",
        "run_id": "r-1",
        "endpoint": "/users",
        "pages": 3,
    }


def test_only_the_context_fields_that_are_set_appear(stream: io.StringIO) -> None:
    with log_context(tenant="contoso"):
        logging.getLogger("monitor").info("tenant only")
    [record] = records(stream)
    assert record["tenant"] == "contoso"
    assert "check" not in record
    assert "run_id" not in record


def test_context_nests_and_restores_the_outer_values() -> None:
    with log_context(tenant="contoso", check="consent-grants"):
        with log_context(tenant="fabrikam", run_id="r-2"):
            assert current_context() == {"tenant": "fabrikam", "check": "consent-grants", "run_id": "r-2"}
        assert current_context() == {"tenant": "contoso", "check": "consent-grants"}
        with pytest.raises(RuntimeError), log_context(check="risky-sign-ins"):
            raise RuntimeError("boom")
        assert current_context() == {"tenant": "contoso", "check": "consent-grants"}
    assert current_context() == {}


async def test_context_follows_tasks_created_inside_it(stream: io.StringIO) -> None:
    async def work() -> None:
        logging.getLogger("monitor").info("in a task")

    with log_context(tenant="contoso", run_id="r-3"):
        task = asyncio.create_task(work())
    await task
    [record] = [record for record in records(stream) if record["logger"] == "monitor"]
    assert (record["tenant"], record["run_id"]) == ("contoso", "r-3")


def test_explicit_extra_wins_over_context(stream: io.StringIO) -> None:
    with log_context(tenant="contoso"):
        logging.getLogger("monitor").info("other tenant", extra={"tenant": "fabrikam"})
    assert records(stream)[0]["tenant"] == "fabrikam"


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        (f"token {JWT} refused", JWT),
        (f"Authorization: Bearer {SECRET}", SECRET),
        (f"POST body client_secret={SECRET}&scope=x", SECRET),
        (f"client_assertion={JWT}", JWT),
        (f"{{'client_secret': '{SECRET}'}}", SECRET),
        (f'{{"password": "{SECRET}"}}', SECRET),
    ],
)
def test_secrets_are_masked_in_messages_and_args(stream: io.StringIO, text: str, leaked: str) -> None:
    logging.getLogger("monitor").info(text)
    logging.getLogger("httpx").warning("request: %s", text)
    output = stream.getvalue()
    assert leaked not in output
    assert output.count("[redacted]") >= 2


def test_redact_text_keeps_the_surroundings() -> None:
    assert redact_text(f"x client_secret={SECRET}&y=1") == "x client_secret=[redacted]&y=1"
    assert redact_text(f"Bearer {JWT}") == "Bearer [redacted]"
    assert redact_text("no secrets in here: keyVault eyJ") == "no secrets in here: keyVault eyJ"


def test_secret_extra_keys_are_masked(stream: io.StringIO) -> None:
    logging.getLogger("monitor").info(
        "acquired",
        extra={
            "client_secret": SECRET,
            "access_token": "opaque",
            "private_key": "PEM",
            "detail": {"password": SECRET, "note": f"Bearer {SECRET}"},
            "url": f"https://login/?client_assertion={JWT}",
        },
    )
    [record] = records(stream)
    assert SECRET not in json.dumps(record)
    assert JWT not in json.dumps(record)
    assert record["client_secret"] == record["access_token"] == record["private_key"] == "[redacted]"
    assert record["detail"] == {"password": "[redacted]", "note": "Bearer [redacted]"}
    assert record["url"] == "https://login/?client_assertion=[redacted]"


def test_secrets_are_masked_in_exception_text(stream: io.StringIO) -> None:
    try:
        raise ValueError(f"token endpoint said: client_secret={SECRET} for {JWT}")
    except ValueError:
        logging.getLogger("monitor").exception("token request failed")
    [record] = records(stream)
    assert "ValueError" in record["exception"]
    assert "Traceback" in record["exception"]
    assert SECRET not in record["exception"]
    assert JWT not in record["exception"]


def test_text_format_on_a_terminal() -> None:
    terminal = FakeTerminal()
    configure_logging("auto", "INFO", terminal)
    with log_context(tenant="contoso"):
        logging.getLogger("monitor").info("sweep finished")
        logging.getLogger("monitor").info(f"with Bearer {SECRET}")
    output = terminal.getvalue()
    assert "sweep finished" in output
    assert "contoso" in output
    assert "{" not in output
    assert SECRET not in output


def test_auto_is_json_when_not_a_terminal() -> None:
    output = io.StringIO()
    configure_logging("auto", "INFO", output)
    logging.getLogger("monitor").info("plain file")
    assert json.loads(output.getvalue())["message"] == "plain file"


def test_configuring_twice_leaves_one_handler_and_keeps_others() -> None:
    other = logging.NullHandler()
    logging.getLogger().addHandler(other)
    first, second = io.StringIO(), io.StringIO()
    configure_logging("json", "INFO", first)
    configure_logging("json", "INFO", second)
    assert len(our_handlers()) == 1
    assert other in logging.getLogger().handlers
    logging.getLogger("monitor").info("once")
    assert first.getvalue() == ""
    assert len(records(second)) == 1


def test_level_filters_and_quiets_httpx() -> None:
    output = io.StringIO()
    configure_logging("json", "info", output)
    logging.getLogger("monitor").debug("hidden")
    logging.getLogger("httpx").info('HTTP Request: GET https://graph "HTTP/1.1 200 OK"')
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").info("Request URL: 'https://blob'")
    logging.getLogger("monitor").info("shown")
    logging.getLogger("azure.storage.blob").warning("kept")
    assert [record["message"] for record in records(output)] == ["shown", "kept"]
    configure_logging("json", "DEBUG", output)
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.DEBUG


@pytest.mark.parametrize(
    ("format", "level", "field"), [("yaml", "INFO", "format"), ("json", "LOUD", "level")]
)
def test_invalid_settings_are_configuration_errors(format: str, level: str, field: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"logging\.{field}"):
        configure_logging(format, level, io.StringIO())
