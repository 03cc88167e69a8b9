"""A watch's filters on settled changes: ``events`` (which kinds count) and ``content_hash``.

With ``content_hash = true`` a save that leaves a file's bytes as they were is not a change:
each file's hash is taken when the watch arms (a file the watch already knows keeps the hash
it had, so a file changed while nobody watched is judged against its bytes before) and again
when a change to it settles. Memory is bounded: at most :data:`MAX_HASHED_PATHS` hashes are
kept (the least recently seen go first) and files over :data:`MAX_HASHED_BYTES` are not
hashed; a path without a hash always counts.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from core.watch.snapshot import ADDED, DELETED

log = logging.getLogger(__name__)

MAX_HASHED_PATHS = 20_000
"""At 16 bytes a hash plus the path, a few MB at most per watch."""
MAX_HASHED_BYTES = 64 * 1024 * 1024
"""Larger files always count when they change (reading them again would cost more than a job)."""
_CHUNK = 1024 * 1024


def file_hash(path: Path) -> bytes | None:
    """BLAKE2b of the file's bytes (16 bytes), None when it cannot be read or is too big."""
    digest = hashlib.blake2b(digest_size=16)
    try:
        with path.open("rb") as handle:
            if os.fstat(handle.fileno()).st_size > MAX_HASHED_BYTES:
                return None
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.digest()


class ContentHashes:
    """The last known bytes (as hashes) of a watch's files, least recently seen dropped first."""

    def __init__(self, directory: Path, limit: int = MAX_HASHED_PATHS) -> None:
        self.directory = directory
        self._limit = limit
        self._hashes: OrderedDict[str, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._hashes)

    def learn(self, rels: Iterable[str]) -> None:
        """Hash the files not known yet (at arm: what is there before any change)."""
        for rel in rels:
            if rel in self._hashes:
                continue
            if len(self._hashes) >= self._limit:
                return  # full: the rest count whenever they change
            digest = file_hash(self.directory / rel)
            if digest is not None:
                self._hashes[rel] = digest

    def unchanged(self, rel: str, kind: str) -> bool:
        """Whether a settled ``modified`` left ``rel``'s bytes as they were; the hash follows
        the file either way (``added``/``modified`` store the new one, ``deleted`` drops it)."""
        if kind == DELETED:
            self._hashes.pop(rel, None)
            return False
        before = self._hashes.pop(rel, None)
        now = file_hash(self.directory / rel)
        if now is not None:
            self._hashes[rel] = now  # the most recently seen last
            while len(self._hashes) > self._limit:
                self._hashes.popitem(last=False)
        return kind != ADDED and before is not None and before == now


def filtered_changes(
    changes: Mapping[str, str], kinds: Sequence[str], hashes: ContentHashes | None
) -> dict[str, str]:
    """The changes that count under ``events`` and ``content_hash`` (their order kept)."""
    kept: dict[str, str] = {}
    same_bytes = 0
    for rel, kind in changes.items():
        if hashes is not None and hashes.unchanged(rel, kind):
            same_bytes += 1
            continue
        if kind in kinds:
            kept[rel] = kind
    if same_bytes:
        log.info("%d save(s) left the bytes as they were: ignored (content_hash)", same_bytes)
    return kept
