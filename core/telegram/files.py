"""Files sent to the bot: which kinds a job can take, their safe names, and the prompt lines naming them.

Photos (pyrogram's ``Message.photo`` is the largest size), documents, voice notes and audio
files are downloaded into the data dir and named in the job's prompt, so Claude reads them
with its own tools. Everything else with media (a sticker, a location, a video note ...) is
refused with a reply naming the kind. A file's name comes from the sender: it is cut to its
last part and to characters that are safe and readable in any shell or editor.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.ops.prune import human_bytes

if TYPE_CHECKING:
    from pyrogram.types import Message

NAME_LONGEST = 120
"""Characters kept of a sent file's name (its extension kept)."""
NOT_CONFIGURED_NOTE = "not transcribed: [telegram] transcribe_command is not set"
TAKEN_KINDS = "text, photos, documents, voice notes and audio files"
_UNSAFE = re.compile(r"[^\w .,+=@()\[\]-]")
_EXTENSIONS = {"audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "audio/x-wav": ".wav"}


@dataclass(frozen=True)
class Incoming:
    """A file a message carries, before it is downloaded."""

    kind: str
    """``photo``, ``document``, ``voice note`` or ``audio``."""
    file_name: str
    """Safe to use as a file name (see :func:`safe_file_name`)."""
    size: int | None
    """Bytes, as Telegram says before the download (None when it does not)."""
    detail: str = ""
    """Shown after the kind in the prompt: a photo's size in pixels, a voice note's length."""


@dataclass(frozen=True)
class Received:
    """A downloaded file, with what the job's prompt says about it."""

    path: Path
    incoming: Incoming
    transcript: str | None = None
    note: str | None = None
    """One line: why a voice note has no transcript."""

    def line(self) -> str:
        size = human_bytes(self.path.stat().st_size) if self.path.exists() else "?"
        about = ", ".join(part for part in (self.incoming.kind, self.incoming.detail, size) if part)
        said = f"- {self.path} ({about})"
        if self.note:
            said += f": {self.note}"
        if self.transcript is not None:
            said += f"\n  transcript: {' '.join(self.transcript.split())}"
        return said


def incoming_file(message: Message) -> Incoming | None:
    """The file ``message`` carries in a kind a job can take, or None."""
    number = message.id
    if message.photo is not None:
        photo = message.photo
        pixels = f"{photo.width}x{photo.height}" if photo.width and photo.height else ""
        return Incoming("photo", f"photo-{number}.jpg", photo.file_size, pixels)
    if message.document is not None:
        document = message.document
        name = safe_file_name(document.file_name, f"document-{number}")
        return Incoming("document", name, document.file_size)
    if message.voice is not None:
        voice = message.voice
        extension = _EXTENSIONS.get(voice.mime_type or "", ".ogg")
        return Incoming("voice note", f"voice-{number}{extension}", voice.file_size, _length(voice.duration))
    if message.audio is not None:
        audio = message.audio
        fallback = f"audio-{number}{_EXTENSIONS.get(audio.mime_type or '', '')}"
        return Incoming(
            "audio", safe_file_name(audio.file_name, fallback), audio.file_size, _length(audio.duration)
        )
    return None


def carries_media(message: Message) -> bool:
    """True for a file or other media (a sticker, a location); a text with a link preview
    (``web_page`` media) is text."""
    return incoming_file(message) is not None or (message.media is not None and not message.text)


def unsupported_kind(message: Message) -> str | None:
    """The kind of media ``message`` carries that no job can take (``sticker``, ``video note``),
    or None when it carries none."""
    media = message.media
    if media is None:
        return None
    return str(getattr(media, "value", media)).replace("_", " ")


def safe_file_name(raw: str | None, fallback: str) -> str:
    """A sent file's name as a plain file name: its last path part, no control characters, no
    leading dots, only letters, digits and ``.,+=@()[]-_`` and spaces (others become ``_``),
    at most ``NAME_LONGEST`` characters with the extension kept; ``fallback`` when nothing is left."""
    text = unicodedata.normalize("NFC", raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(char for char in text if unicodedata.category(char)[0] != "C")
    text = _UNSAFE.sub("_", text).strip().lstrip(".").strip()
    if not text or set(text) <= {"_", " "}:
        return fallback
    if len(text) > NAME_LONGEST:
        stem, dot, extension = text.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            text = stem[: NAME_LONGEST - len(extension) - 1].rstrip() + "." + extension
        else:
            text = text[:NAME_LONGEST]
    return text


def unique_path(folder: Path, name: str) -> Path:
    """``folder / name``, or ``name-2``, ``name-3`` ... when a file of this burst took it."""
    candidate = folder / name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        stem, extension = name, ""
    number = 2
    while candidate.exists():
        candidate = folder / (f"{stem}-{number}.{extension}" if extension else f"{stem}-{number}")
        number += 1
    if candidate.resolve().parent != folder.resolve():  # a name is one path part: never elsewhere
        raise ValueError(f"file name {name!r} leaves the folder {folder}")
    return candidate


def files_block(received: Sequence[Received]) -> str:
    """What the prompt says about the files: one line each, their paths absolute."""
    if not received:
        return ""
    lines = [f"Files sent with this over Telegram ({len(received)}), to read with your tools:"]
    lines.extend(entry.line() for entry in received)
    return "\n".join(lines)


def too_large(incoming: Incoming, limit_bytes: int) -> str | None:
    """The reply refusing ``incoming`` when Telegram says it is over the limit, else None."""
    if incoming.size is None or incoming.size <= limit_bytes:
        return None
    return (
        f"not downloaded: the {incoming.kind} {incoming.file_name} is {human_bytes(incoming.size)}, "
        f"over the {human_bytes(limit_bytes)} limit ([telegram] max_file_mb)"
    )


@dataclass(frozen=True)
class Transcript:
    """A transcription's text, or the one line saying why there is none."""

    text: str | None
    note: str | None = None


async def transcribe(
    argv: Sequence[str], audio: Path, timeout_seconds: float, environ: Mapping[str, str]
) -> Transcript:
    """Run ``argv`` with ``{path}`` replaced by ``audio`` (no shell, its own process group),
    and take its stdout as the text; a failure, a time-out or no text is one line instead."""
    if not argv:
        return Transcript(None, NOT_CONFIGURED_NOTE)
    command = [arg.replace("{path}", str(audio)) for arg in argv]
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(environ),
            start_new_session=True,
        )
    except OSError as error:
        return Transcript(None, f"not transcribed: cannot run {command[0]} ({error.strerror or error})")
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout_seconds)
    except TimeoutError:
        _end_group(process.pid)
        await process.wait()
        return Transcript(None, f"not transcribed: {command[0]} took longer than {timeout_seconds:g}s")
    if process.returncode != 0:
        last = next(
            (line for line in reversed(stderr.decode(errors="replace").splitlines()) if line.strip()), ""
        )
        why = f": {' '.join(last.split())[:200]}" if last else ""
        return Transcript(None, f"not transcribed: {command[0]} exited with {process.returncode}{why}")
    text = stdout.decode(errors="replace").strip()
    if not text:
        return Transcript(None, f"not transcribed: {command[0]} printed no text")
    return Transcript(text)


def _end_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _length(seconds: int | None) -> str:
    if not seconds:
        return ""
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"
