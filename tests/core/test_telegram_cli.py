"""`flowtui telegram ...`, `flowtui notifications ...`, `doctor`, and the Telegram settings: one-line
errors with exit 2, stable JSON, env overrides, and secrets that never show."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import pytest
from clikit import Flowtui
from enginekit import settings_from
from fakeclaude import ok_script
from telegramkit import ALICE, API_HASH, BOT_TOKEN, CHAT, TELEGRAM_CONFIG

from core.config.settings import API_HASH_ENV, API_ID_ENV, BOT_TOKEN_ENV, NOT_CONFIGURED
from core.ledger.notifications import Draft, NotificationStore
from core.telegram.config import TelegramConfigError, resolve_config, telegram_status
from core.telegram.service import SecretFilter

SECTION_ONLY = f"[telegram]\nallowed_users = [{ALICE}]\nnotify_chat_id = {CHAT}\n"
SECRET_ENV = {API_ID_ENV: "12345", API_HASH_ENV: API_HASH, BOT_TOKEN_ENV: BOT_TOKEN}


@pytest.fixture
def flowtui(tmp_path: Path) -> Flowtui:
    runner = Flowtui(tmp_path / "home", ok_script(tmp_path / "claude"))
    runner.home.mkdir()
    return runner


def configure(flowtui: Flowtui, text: str) -> None:
    (flowtui.home / "config.toml").write_text(text)


def one_line_error(done: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert done.returncode == code, (done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


# -- settings ---------------------------------------------------------------------------


def test_env_overrides_the_three_credentials() -> None:
    config = resolve_config(settings_from(SECTION_ONLY), SECRET_ENV)
    assert config is not None
    assert config.api_id == 12345 and config.bot_id == 4242
    assert config.api_hash.get_secret_value() == API_HASH
    assert config.allowed_users == frozenset({ALICE}) and config.notify_chat_id == CHAT
    overridden = resolve_config(settings_from(TELEGRAM_CONFIG), {API_ID_ENV: "777"})
    assert overridden is not None and overridden.api_id == 777


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {},
            "[telegram] api_id is missing: set it (from my.telegram.org) in the config or in "
            "$FLOWTUI_TELEGRAM_API_ID",
        ),
        ({**SECRET_ENV, API_ID_ENV: "abc"}, "$FLOWTUI_TELEGRAM_API_ID must be a number (got 3 characters)"),
        ({**SECRET_ENV, API_ID_ENV: "0"}, "bad api_id 0: use the number my.telegram.org shows"),
        (
            {**SECRET_ENV, API_HASH_ENV: "short"},
            "bad api_hash: expected the 32 hex digits my.telegram.org shows",
        ),
        (
            {**SECRET_ENV, BOT_TOKEN_ENV: "nonsense"},
            "bad bot token: expected the form 123456789:AA... that @BotFather gives",
        ),
        (
            {API_ID_ENV: "1", API_HASH_ENV: API_HASH},
            "[telegram] bot_token is missing: set it (from @BotFather) in the config or in "
            "$FLOWTUI_TELEGRAM_BOT_TOKEN",
        ),
    ],
)
def test_missing_or_malformed_credentials_name_the_key(environ: dict[str, str], message: str) -> None:
    with pytest.raises(TelegramConfigError) as raised:
        resolve_config(settings_from(SECTION_ONLY), environ)
    assert str(raised.value) == message


def test_no_section_means_not_configured_even_with_env() -> None:
    assert resolve_config(settings_from(""), SECRET_ENV) is None
    assert telegram_status(settings_from(""), SECRET_ENV) == NOT_CONFIGURED


def test_secrets_never_appear_in_repr_status_or_errors() -> None:
    settings = settings_from(TELEGRAM_CONFIG)
    config = resolve_config(settings, {})
    for text in (repr(settings), repr(config), str(config), telegram_status(settings, {})):
        assert BOT_TOKEN not in text and API_HASH not in text
    assert telegram_status(settings, {}) == (
        f"Telegram configured for bot 4242: 2 allowed users; notifications to chat {CHAT}"
    )
    with_progress = settings_from(TELEGRAM_CONFIG.replace("[telegram]", "[telegram]\nprogress = true", 1))
    assert telegram_status(with_progress, {}).endswith(f"chat {CHAT}; live progress every 5s")
    broken = settings_from(SECTION_ONLY)
    status = telegram_status(broken, {**SECRET_ENV, BOT_TOKEN_ENV: BOT_TOKEN + "!"})
    assert status.startswith("Telegram misconfigured: bad bot token") and BOT_TOKEN not in status


def test_the_log_filter_blanks_secrets_in_messages_and_tracebacks() -> None:
    secret_filter = SecretFilter((API_HASH, BOT_TOKEN))
    try:
        raise RuntimeError(f"token {BOT_TOKEN} rejected")
    except RuntimeError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "with %s", (API_HASH,), sys.exc_info())
    assert secret_filter.filter(record)
    formatted = logging.Formatter().format(record)
    assert API_HASH not in formatted and BOT_TOKEN not in formatted and formatted.count("***") == 2


# -- flowtui telegram ---------------------------------------------------------------------


def test_telegram_check_without_a_section_says_how_to_set_it_up(flowtui: Flowtui) -> None:
    assert one_line_error(flowtui.run("telegram", "check")) == f"flowtui: {NOT_CONFIGURED}"


def test_telegram_check_with_a_malformed_token_fails_before_any_network(flowtui: Flowtui) -> None:
    configure(flowtui, TELEGRAM_CONFIG.replace(BOT_TOKEN, "not-a-token"))
    line = one_line_error(flowtui.run("telegram", "check"))
    assert line == "flowtui: bad bot token: expected the form 123456789:AA... that @BotFather gives"


def test_telegram_status_and_doctor_show_the_state_without_secrets(flowtui: Flowtui) -> None:
    out = flowtui.ok("telegram", "status")
    assert out.strip() == NOT_CONFIGURED
    configure(flowtui, SECTION_ONLY)
    flowtui.env.update(SECRET_ENV)
    out = flowtui.ok("telegram", "status")
    assert out.startswith("Telegram configured for bot 4242: 1 allowed user") and "outbox: empty" in out
    add_rows(flowtui.home)
    assert "outbox: 1 pending, 1 failed (see `flowtui notifications`)" in flowtui.ok("telegram", "status")
    doctor = flowtui.ok("doctor")
    (line,) = [line for line in doctor.splitlines() if "telegram:" in line]
    assert line.startswith("ok    telegram: Telegram configured for bot 4242")
    assert BOT_TOKEN not in doctor and API_HASH not in doctor


def test_doctor_without_telegram_is_fine(flowtui: Flowtui) -> None:
    doctor = flowtui.ok("doctor")
    assert f"ok    telegram: {NOT_CONFIGURED}" in doctor.splitlines()


# -- flowtui notifications ----------------------------------------------------------------


def add_rows(home: Path) -> list[int]:
    store = NotificationStore(home / "ledger.db")
    try:
        sent, failed, pending = store.enqueue(
            [
                Draft(CHAT, "job done", "job", job_id=1),
                Draft(CHAT, "refused", "reply"),
                Draft(CHAT, "later", "reply"),
            ]
        )
        store.mark_sent(sent, 501)
        store.mark_failed(failed.id, "Telegram says: [403 USER_IS_BLOCKED] - The user blocked you")
        return [sent.id, failed.id, pending.id]
    finally:
        store.close()


def test_notifications_list_and_json(flowtui: Flowtui) -> None:
    assert flowtui.ok("notifications").startswith("no notifications yet")
    assert json.loads(flowtui.ok("notifications", "--json")) == []
    sent, failed, pending = add_rows(flowtui.home)
    listed = json.loads(flowtui.ok("notifications", "--json"))
    assert [row["id"] for row in listed] == [pending, failed, sent]
    assert all(
        set(row) == {"id", "job_id", "channel", "chat_id", "state", "error", "created_at", "sent_at"}
        for row in listed
    )
    assert [row["state"] for row in listed] == ["pending", "failed", "sent"]
    assert listed[1]["error"] == "Telegram says: [403 USER_IS_BLOCKED] - The user blocked you"
    assert listed[2]["job_id"] == 1 and listed[2]["sent_at"] and listed[2]["chat_id"] == CHAT
    assert {row["channel"] for row in listed} == {"telegram"}
    table = flowtui.ok("notifications", "--limit", "2").splitlines()
    assert table[0].split()[:4] == ["ID", "STATE", "KIND", "JOB"] and len(table) == 3
    assert "USER_IS_BLOCKED" in table[2]


def test_notifications_resend(flowtui: Flowtui) -> None:
    configure(flowtui, TELEGRAM_CONFIG)
    _, failed, _ = add_rows(flowtui.home)
    done = flowtui.run("notifications", "resend", str(failed))
    assert done.returncode == 0, done.stderr
    new_id = int(done.stdout)
    assert f"queued #{new_id} (resend of #{failed}); no engine runs" in done.stderr
    listed = {row["id"]: row for row in json.loads(flowtui.ok("notifications", "--json"))}
    assert listed[new_id]["state"] == "pending" and listed[failed]["state"] == "failed"


def test_notifications_resend_bad_input(flowtui: Flowtui) -> None:
    assert one_line_error(flowtui.run("notifications", "resend", "1")) == f"flowtui: {NOT_CONFIGURED}"
    configure(flowtui, TELEGRAM_CONFIG)
    assert one_line_error(flowtui.run("notifications", "resend", "77")) == (
        "flowtui: no notification #77: see `flowtui notifications` for the ids that exist"
    )
    assert "bad notification id 'x'" in one_line_error(flowtui.run("notifications", "resend", "x"))
