"""Files in: photos, documents and voice notes as pyrogram's own Message objects reach the bot
through the gateway seam, are downloaded into the data dir (the recording gateway writes the
bytes a test gives it), and the job's prompt names their paths; refusals are replies."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyrogram import enums, types
from telegramkit import (
    CHAT,
    STRANGER,
    TELEGRAM_CONFIG,
    BotKit,
    bot_kit,
    chat,
    message,
    started,
    user,
)

from core.clock import Clock
from core.config.settings import load_settings
from core.errors import ConfigError
from core.jobs import Job
from core.ledger.notifications import Draft
from core.ledger.sqlite import Ledger
from core.telegram.config import resolve_config
from core.telegram.files import safe_file_name

MB = 1024 * 1024
_ids = iter(range(5000, 10**6))
PHOTO_BYTES = b"\xff\xd8\xff\xe0 a jpeg, more or less"
TRANSCRIBER = """
import sys
from pathlib import Path
audio = Path(sys.argv[1])
print(f"please fix the {audio.read_bytes().decode()} (heard from {audio.name})")
"""


def media_message(
    media: enums.MessageMediaType,
    caption: str | None = None,
    from_id: int = 111,
    reply_to: types.Message | None = None,
    reply_to_id: int | None = None,
    **file: object,
) -> types.Message:
    """A message carrying a file (or other media), as pyrogram's parser builds it."""
    replied_id = reply_to.id if reply_to is not None else reply_to_id
    return types.Message(
        id=next(_ids),
        from_user=user(from_id, "alice" if from_id == 111 else "mallory"),
        chat=chat(from_id),
        date=datetime.now(UTC),
        media=media,
        caption=caption,
        reply_to_message_id=replied_id,
        reply_to_message=reply_to,
        **file,  # type: ignore[arg-type]
    )


def photo(file_id: str, size: int = len(PHOTO_BYTES)) -> types.Photo:
    return types.Photo(
        file_id=file_id,
        file_unique_id=f"u-{file_id}",
        width=1280,
        height=960,
        file_size=size,
        date=datetime.now(UTC),
    )


def document(file_id: str, name: str | None, size: int | None) -> types.Document:
    return types.Document(
        file_id=file_id, file_unique_id=f"u-{file_id}", file_name=name, mime_type="text/plain", file_size=size
    )


def voice(file_id: str, size: int) -> types.Voice:
    return types.Voice(
        file_id=file_id, file_unique_id=f"u-{file_id}", duration=7, mime_type="audio/ogg", file_size=size
    )


def sent_paths(job: Job, kit: BotKit) -> list[Path]:
    """The paths the job's prompt names under the data dir's Telegram files."""
    root = str(kit.paths.telegram_files_dir)
    return [Path(line[2:].split(" (")[0]) for line in job.prompt.splitlines() if line.startswith(f"- {root}")]


@pytest.fixture
async def kit(tmp_path: Path) -> AsyncIterator[BotKit]:
    with bot_kit(tmp_path / "home") as made:
        yield await started(made)


@pytest.fixture
def transcriber(tmp_path: Path) -> Iterator[list[str]]:
    script = tmp_path / "transcribe.py"
    script.write_text(TRANSCRIBER)
    yield [sys.executable, str(script), "{path}"]


@asynccontextmanager
async def kit_with(tmp_path: Path, extra: str) -> AsyncIterator[BotKit]:
    """A started bot whose [telegram] section has ``extra`` keys, read through the real config check."""
    with bot_kit(tmp_path / "home", TELEGRAM_CONFIG + extra) as made:
        kit = await started(made)
        config = resolve_config(kit.settings, {})
        assert config is not None
        kit.bot.config = config
        yield kit


async def test_a_photo_with_a_caption_becomes_a_job_naming_the_downloaded_file(kit: BotKit) -> None:
    kit.gateway.files["p1"] = PHOTO_BYTES
    await kit.gateway.deliver(
        media_message(enums.MessageMediaType.PHOTO, "what is wrong here?", photo=photo("p1"))
    )
    (job,) = kit.quiet()
    assert job.prompt.startswith("what is wrong here?\n\nFiles sent with this over Telegram (1)")
    (path,) = sent_paths(job, kit)
    assert path.read_bytes() == PHOTO_BYTES and path.suffix == ".jpg"
    assert path.parent.parent == kit.paths.telegram_files_dir
    assert "(photo, 1280x960, " in job.prompt
    assert await kit.drain() == [f"queued #{job.id} with 1 file"]


async def test_a_documents_name_from_the_sender_is_made_safe(kit: BotKit) -> None:
    kit.gateway.files["d1"] = b"secret plans"
    tricky = media_message(
        enums.MessageMediaType.DOCUMENT, "read it", document=document("d1", "../../../etc/pass\x00wd.txt", 12)
    )
    await kit.gateway.deliver(tricky)
    (job,) = kit.quiet()
    (path,) = sent_paths(job, kit)
    assert path.name == "passwd.txt" and path.read_bytes() == b"secret plans"
    assert path.resolve().is_relative_to(kit.paths.telegram_files_dir.resolve())
    assert "(document, 12 B)" in job.prompt


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("report.pdf", "report.pdf"),
        ("Überblick 2026 (final).docx", "Überblick 2026 (final).docx"),
        ("..\\..\\windows\\evil.bat", "evil.bat"),
        ("../..", "document"),
        ("..hidden", "hidden"),
        ("a\nb\tc.txt", "abc.txt"),
        ("rm -rf $(whoami);.sh", "rm -rf _(whoami)_.sh"),
        ("", "document"),
        (None, "document"),
        ("x" * 300 + ".tar.gz", "x" * 117 + ".gz"),
    ],
)
def test_safe_file_names(raw: str | None, safe: str) -> None:
    assert safe_file_name(raw, "document") == safe


async def test_a_voice_note_is_transcribed_by_the_configured_command(
    tmp_path: Path, transcriber: list[str]
) -> None:
    argv = ", ".join(f'"{arg}"' for arg in transcriber)
    async with kit_with(tmp_path, f"transcribe_command = [{argv}]\n") as kit:
        kit.gateway.files["v1"] = b"login page"
        await kit.gateway.deliver(media_message(enums.MessageMediaType.VOICE, voice=voice("v1", 10)))
        (job,) = kit.quiet()
        (path,) = sent_paths(job, kit)
        assert path.read_bytes() == b"login page" and path.suffix == ".ogg"
        assert f"  transcript: please fix the login page (heard from {path.name})" in job.prompt
        assert "(voice note, 0:07, 10 B)" in job.prompt
        assert await kit.drain() == [f"queued #{job.id} with 1 file"]


async def test_without_a_transcribe_command_a_voice_note_arrives_as_audio_with_a_note(kit: BotKit) -> None:
    kit.gateway.files["v2"] = b"ogg bytes"
    await kit.gateway.deliver(media_message(enums.MessageMediaType.VOICE, voice=voice("v2", 9)))
    (job,) = kit.quiet()
    (path,) = sent_paths(job, kit)
    assert path.read_bytes() == b"ogg bytes"
    note = "not transcribed: [telegram] transcribe_command is not set"
    assert f"{path}" in job.prompt and note in job.prompt and "transcript:" not in job.prompt
    assert await kit.drain() == [f"queued #{job.id} with 1 file\n{path.name} {note}"]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("import sys; print('model missing', file=sys.stderr); sys.exit(3)", "exited with 3: model missing"),
        ("import time; time.sleep(60)", "took longer than 0.5s"),
        ("pass", "printed no text"),
    ],
)
async def test_a_failed_transcription_is_one_line_and_the_audio_still_goes_to_the_job(
    tmp_path: Path, script: str, expected: str
) -> None:
    program = tmp_path / "fails.py"
    program.write_text(script)
    extra = (
        f'transcribe_command = ["{sys.executable}", "{program}", "{{path}}"]\n'
        "transcribe_timeout_seconds = 0.5\n"
    )
    async with kit_with(tmp_path, extra) as kit:
        kit.gateway.files["v3"] = b"ogg"
        await kit.gateway.deliver(
            media_message(enums.MessageMediaType.VOICE, "about this", voice=voice("v3", 3))
        )
        (job,) = kit.quiet()
        (path,) = sent_paths(job, kit)
        assert path.read_bytes() == b"ogg"
        (said,) = await kit.drain()
        note = said.splitlines()[1]
        assert note.startswith(f"{path.name} not transcribed: {sys.executable}") and note.endswith(expected)
        assert note.partition(" ")[2] in job.prompt


async def test_a_file_replying_to_a_message_takes_its_text_as_the_prompt(kit: BotKit) -> None:
    earlier = message("summarise the attached minutes")
    kit.gateway.files["d2"] = b"minutes"
    await kit.gateway.deliver(
        media_message(
            enums.MessageMediaType.DOCUMENT, reply_to=earlier, document=document("d2", "minutes.txt", 7)
        )
    )
    (job,) = kit.quiet()
    assert job.prompt.startswith("summarise the attached minutes\n\nFiles sent")
    assert [path.name for path in sent_paths(job, kit)] == ["minutes.txt"]


async def test_an_oversize_file_is_refused_before_anything_is_downloaded(kit: BotKit) -> None:
    kit.gateway.files["big"] = b"never fetched"
    big = media_message(
        enums.MessageMediaType.DOCUMENT, "look", document=document("big", "dump.bin", 21 * MB)
    )
    await kit.gateway.deliver(big)
    assert kit.quiet() == [] and kit.ledger.list_jobs() == []
    assert kit.gateway.downloads == []
    assert await kit.drain() == [
        "not downloaded: the document dump.bin is 21.0 MB, over the 20.0 MB limit ([telegram] max_file_mb)"
    ]
    assert not kit.paths.telegram_files_dir.exists() or not any(kit.paths.telegram_files_dir.iterdir())


async def test_a_file_whose_size_telegram_did_not_say_is_checked_after_the_download(tmp_path: Path) -> None:
    async with kit_with(tmp_path, "max_file_mb = 0.00001\n") as kit:  # about 10 bytes
        kit.gateway.files["d3"] = b"x" * 100
        await kit.gateway.deliver(
            media_message(enums.MessageMediaType.DOCUMENT, "read", document=document("d3", "log.txt", None))
        )
        (job,) = kit.quiet()  # the caption still became a job
        assert sent_paths(job, kit) == [] and "Files sent" not in job.prompt
        said = await kit.drain()
        assert (
            said[0]
            == "not downloaded: the document log.txt is 100 B, over the 10 B limit ([telegram] max_file_mb)"
        )
        assert not list(kit.paths.telegram_files_dir.rglob("log.txt"))


async def test_a_strangers_file_is_never_downloaded_and_they_are_told_once(kit: BotKit) -> None:
    kit.gateway.files["p9"] = PHOTO_BYTES
    for _ in range(2):
        await kit.gateway.deliver(
            media_message(enums.MessageMediaType.PHOTO, "run this", from_id=STRANGER, photo=photo("p9"))
        )
    assert kit.quiet() == [] and kit.ledger.list_jobs() == [] and kit.gateway.downloads == []
    assert await kit.drain() == [
        f"not downloaded: this bot takes files only from the users it allows (your id {STRANGER} is not one)"
    ]
    assert kit.gateway.sent[0].chat_id == STRANGER
    assert kit.bot.denied_count == 2 and kit.store.denied_summary() == (2, 1)


async def test_media_of_an_unknown_kind_is_refused_with_a_reply(kit: BotKit) -> None:
    sticker = types.Sticker(
        file_id="s1",
        file_unique_id="us1",
        type=enums.StickerType.REGULAR,
        width=512,
        height=512,
        is_animated=False,
        is_video=False,
    )
    await kit.gateway.deliver(media_message(enums.MessageMediaType.STICKER, sticker=sticker))
    await kit.gateway.deliver(
        media_message(enums.MessageMediaType.LOCATION, location=types.Location(longitude=13.4, latitude=52.5))
    )
    assert kit.quiet() == [] and kit.gateway.downloads == []
    taken = "send text, photos, documents, voice notes and audio files"
    assert await kit.drain() == [
        f"flowtui cannot take a sticker: {taken}",
        f"flowtui cannot take a location: {taken}",
    ]


async def test_a_text_with_a_link_preview_is_still_text(kit: BotKit) -> None:
    linked = message("read https://example.org/notes")
    linked.media = enums.MessageMediaType.WEB_PAGE
    await kit.gateway.deliver(linked)
    (job,) = kit.quiet()
    assert job.prompt == "read https://example.org/notes"


async def test_a_burst_of_files_and_text_becomes_one_job_in_one_folder(kit: BotKit) -> None:
    kit.gateway.files.update({"a": b"first", "b": b"second", "c": b"third"})
    await kit.gateway.deliver(message("compare these screenshots"))
    kit.clock.advance(0.5)
    await kit.gateway.deliver(media_message(enums.MessageMediaType.PHOTO, photo=photo("a")))
    kit.clock.advance(0.5)
    await kit.gateway.deliver(media_message(enums.MessageMediaType.PHOTO, photo=photo("b")))
    kit.clock.advance(0.5)
    await kit.gateway.deliver(
        media_message(enums.MessageMediaType.DOCUMENT, "and the log", document=document("c", "photo.txt", 5))
    )
    assert kit.bot.flush_due() == [] and kit.ledger.list_jobs() == []
    (job,) = kit.quiet()
    assert job.prompt.startswith(
        "compare these screenshots\nand the log\n\nFiles sent with this over Telegram (3)"
    )
    paths = sent_paths(job, kit)
    assert [path.read_bytes() for path in paths] == [b"first", b"second", b"third"]
    assert len({path.parent for path in paths}) == 1
    assert await kit.drain() == [f"queued #{job.id} from 4 messages with 3 files"]


async def test_a_burst_waits_for_a_file_still_downloading(kit: BotKit) -> None:
    """The quiet time passes while a big file downloads: the burst is queued only once it is in."""
    release, asked = asyncio.Event(), asyncio.Event()
    real_download = kit.gateway.download

    async def slow_download(message: types.Message, destination: Path) -> None:
        asked.set()
        await release.wait()
        await real_download(message, destination)

    kit.bot.download = slow_download
    kit.gateway.files["slow"] = b"big file"
    arriving = asyncio.create_task(
        kit.gateway.deliver(
            media_message(enums.MessageMediaType.DOCUMENT, "check", document=document("slow", "big.txt", 8))
        )
    )
    await asked.wait()
    await kit.gateway.deliver(message("/jobs"))  # a command closes the burst: it waits on
    assert kit.quiet() == [] and kit.ledger.list_jobs() == []
    release.set()
    await arriving
    (job,) = kit.ledger.list_jobs()
    assert job.prompt.startswith("check\n\nFiles sent") and [
        p.read_bytes() for p in sent_paths(job, kit)
    ] == [b"big file"]


async def test_a_failed_download_is_replied_and_the_text_still_becomes_a_job(kit: BotKit) -> None:
    await kit.gateway.deliver(
        media_message(enums.MessageMediaType.DOCUMENT, "see attached", document=document("gone", "a.txt", 3))
    )
    (job,) = kit.quiet()
    assert job.prompt == "see attached"
    said = await kit.drain()
    assert said[0] == "could not download the document a.txt: no file 'gone' on this recording Telegram"
    assert said[1] == f"queued #{job.id}"


async def test_a_file_replying_to_a_finished_jobs_message_is_a_follow_up_with_it(kit: BotKit) -> None:
    await kit.say("/run make the chart")
    (job,) = kit.ledger.list_jobs()
    kit.finish(job.id)
    kit.store.enqueue([Draft(CHAT, "✓ done", "job", job_id=job.id)])
    await kit.drain()
    sent = kit.gateway.messages()[-1]
    kit.gateway.files["p2"] = PHOTO_BYTES
    await kit.gateway.deliver(
        media_message(
            enums.MessageMediaType.PHOTO,
            "the colours are off",
            reply_to_id=sent.message_id,
            photo=photo("p2"),
        )
    )
    (followup,) = [j for j in kit.ledger.list_jobs() if j.parent_id == job.id]
    assert followup.prompt.startswith("the colours are off\n\nFiles sent")
    (path,) = sent_paths(followup, kit)
    assert path.read_bytes() == PHOTO_BYTES
    assert kit.store.file_folders([followup.id]) == [str(path.parent)]


async def test_pruning_a_job_removes_the_files_sent_for_it(tmp_path: Path) -> None:
    hands = [datetime(2026, 1, 10, 12, 0, tzinfo=UTC)]
    home = tmp_path / "home"
    home.mkdir()
    ledger = Ledger(home / "ledger.db", clock=Clock(lambda: hands[0], UTC))
    try:
        with bot_kit(home, ledger=ledger) as made:
            kit = await started(made)
            kit.gateway.files["p3"] = PHOTO_BYTES
            await kit.gateway.deliver(media_message(enums.MessageMediaType.PHOTO, "look", photo=photo("p3")))
            (job,) = kit.quiet()
            kit.finish(job.id)
            (path,) = sent_paths(job, kit)
            hands[0] += timedelta(days=100)
            preview = kit.control.prune(timedelta(days=90), dry_run=True)
            assert (preview.sent_files, preview.sent_file_bytes) == (1, len(PHOTO_BYTES)) and path.exists()
            report = kit.control.prune(timedelta(days=90))
            assert report.jobs == [job.id] and report.sent_files == 1
            assert not path.parent.exists() and kit.store.file_folders([job.id]) == []
            assert "1 folders of files sent on Telegram (" in report.lines()[0]
    finally:
        ledger.close()


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('max_file_mb = "big"', "[telegram] max_file_mb: expected a number"),
        ("max_file_mb = 0", "[telegram] max_file_mb: input should be greater than 0"),
        (
            'transcribe_command = "whisper {path}"',
            "[telegram] transcribe_command: expected a list of strings",
        ),
        ('transcribe_command = ["whisper"]', "[telegram] transcribe_command: names no {path}"),
        ("transcribe_timeout_seconds = -1", "[telegram] transcribe_timeout_seconds: input should be greater"),
    ],
)
def test_the_new_keys_are_checked_at_load(tmp_path: Path, line: str, fragment: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(TELEGRAM_CONFIG + line + "\n")
    with pytest.raises(ConfigError) as problem:
        load_settings(config)
    assert "\n" not in str(problem.value) and fragment in str(problem.value)


def test_the_new_keys_default_and_resolve(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(TELEGRAM_CONFIG)
    resolved = resolve_config(load_settings(config), {})
    assert resolved is not None and resolved.max_file_bytes == 20 * MB and resolved.transcribe_command == ()
    config.write_text(TELEGRAM_CONFIG + 'max_file_mb = 2.5\ntranscribe_command = ["t", "--in={path}"]\n')
    resolved = resolve_config(load_settings(config), {})
    assert resolved is not None and resolved.max_file_bytes == int(2.5 * MB)
    assert resolved.transcribe_command == ("t", "--in={path}")


async def test_a_file_replying_to_a_running_jobs_message_is_told_to_it(kit: BotKit) -> None:
    await kit.say("/run draw the chart")
    (job,) = kit.ledger.list_jobs()
    assert kit.ledger.claim(job.id, owner_pid=1) is not None
    kit.store.enqueue([Draft(CHAT, "#1 is running", "reply", job_id=job.id)])
    await kit.drain()
    sent = kit.gateway.messages()[-1]
    kit.gateway.files["a1"] = b"ID3 audio"
    audio = types.Audio(
        file_id="a1",
        file_unique_id="u-a1",
        duration=65,
        file_name="brief.mp3",
        mime_type="audio/mpeg",
        file_size=9,
    )
    await kit.gateway.deliver(
        media_message(
            enums.MessageMediaType.AUDIO, "use this brief", reply_to_id=sent.message_id, audio=audio
        )
    )
    (told,) = kit.inputs(job.id)
    assert told.text.startswith("use this brief\n\nFiles sent with this over Telegram (1)")
    assert "brief.mp3 (audio, 1:05, 9 B)" in told.text
    (folder,) = kit.store.file_folders([job.id])
    assert (Path(folder) / "brief.mp3").read_bytes() == b"ID3 audio"
    assert await kit.drain() == [f"told #{job.id}: Claude reads it at its next turn"]


async def test_a_refused_reply_with_a_file_says_why_and_keeps_no_file(kit: BotKit) -> None:
    await kit.say("/run never started")
    (job,) = kit.ledger.list_jobs()
    kit.finish(job.id, session_id=None)  # no session: no follow-up can continue it
    kit.store.enqueue([Draft(CHAT, "✓ done", "job", job_id=job.id)])
    await kit.drain()
    sent = kit.gateway.messages()[-1]
    kit.gateway.files["p4"] = PHOTO_BYTES
    await kit.gateway.deliver(
        media_message(enums.MessageMediaType.PHOTO, "again", reply_to_id=sent.message_id, photo=photo("p4"))
    )
    assert [j.id for j in kit.ledger.list_jobs()] == [job.id]
    (said,) = await kit.drain()
    assert said.startswith(f"job #{job.id} has no Claude session to continue")
    assert kit.gateway.downloads and not any(kit.paths.telegram_files_dir.rglob("*.jpg"))


async def test_the_real_gateway_downloads_through_pyrogram_to_the_destination(tmp_path: Path) -> None:
    """PyrogramGateway.download hands pyrogram the message and the full destination path, and a
    download that lands elsewhere (or nowhere) is an error, not a silent success."""
    from typing import Any

    from telegramkit import telegram_config

    from core.telegram.gateway import PyrogramGateway

    gateway = PyrogramGateway(telegram_config(), tmp_path / "bot.session", in_memory=True)

    async def ignore(update: Any) -> None:
        return None

    client = gateway.prepare(ignore, ignore)
    calls: list[tuple[Any, str]] = []
    lands: list[str | None] = []

    async def download_media(media: Any, file_name: str = "") -> str | None:
        calls.append((media, file_name))
        Path(file_name).write_bytes(b"pixels")
        return lands.pop(0) if lands else file_name

    client.download_media = download_media  # type: ignore[method-assign]
    sent = media_message(enums.MessageMediaType.PHOTO, photo=photo("p5"))
    destination = tmp_path / "photo.jpg"
    await gateway.download(sent, destination)
    assert calls == [(sent, str(destination))] and destination.read_bytes() == b"pixels"
    lands.append(None)
    with pytest.raises(ConnectionError, match="did not deliver the file"):
        await gateway.download(sent, destination)
