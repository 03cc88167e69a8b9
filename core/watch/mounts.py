"""Which watched paths lie on a mount whose changes the kernel does not report (``flowtui doctor``).

inotify sees the writes made through this machine's kernel only: on NFS, SMB, 9p (WSL2,
QEMU), WSL's drvfs, virtiofs and sshfs mounts a file changed by another machine (or by the
host of a VM or container) raises no event, so a native watch there looks active and never
fires. Such a watch wants ``poll = true``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from core.config.settings import WatchSettings
from core.config.watch_path import watch_key

REMOTE_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "9p",
        "v9fs",
        "drvfs",
        "virtiofs",
        "fuse.sshfs",
        "sshfs",
        "fuse.rclone",
        "fuse.grpcfuse",
        "fuse.osxfs",
        "afs",
        "ceph",
        "glusterfs",
        "fuse.glusterfs",
        "lustre",
    }
)
"""File systems whose changes made elsewhere raise no inotify event (``overlay``, a container's
own root, is not one: writes inside the container are seen)."""


@dataclass(frozen=True)
class Mount:
    """One line of the mount table."""

    mountpoint: str
    fstype: str
    device: str = ""


MountTable = Callable[[], Sequence[Mount]]


def system_mounts() -> list[Mount]:
    """This machine's mount table (``/proc/self/mountinfo`` on Linux, through psutil)."""
    import psutil

    return [
        Mount(mountpoint=part.mountpoint, fstype=part.fstype, device=part.device)
        for part in psutil.disk_partitions(all=True)
    ]


def mount_of(path: str, mounts: Iterable[Mount]) -> Mount | None:
    """The mount holding ``path``: the one with the longest mount point that contains it (of
    two on the same point, the later one, which is mounted over the first)."""
    best: Mount | None = None
    best_length = -1
    for mount in mounts:
        point = mount.mountpoint.rstrip(os.sep) or os.sep
        inside = point == os.sep or path == point or path.startswith(point + os.sep)
        if inside and len(point) >= best_length:
            best, best_length = mount, len(point)
    return best


def _existing(path: str) -> str:
    """``path``, or its nearest parent that exists (a root not created yet will be there)."""
    candidate = path
    while not os.path.exists(candidate):
        parent = os.path.dirname(candidate)
        if parent == candidate:
            break
        candidate = parent
    return os.path.realpath(candidate)


def unpolled_remote_watches(
    watches: Iterable[WatchSettings], mounts: MountTable = system_mounts
) -> list[tuple[str, Mount]]:
    """Each enabled native watch on a remote or 9p mount, with that mount."""
    table: Sequence[Mount] | None = None
    found: list[tuple[str, Mount]] = []
    for watch in watches:
        if watch.poll or not watch.enabled:
            continue
        if table is None:
            table = mounts()
        key = watch_key(watch.path)
        mount = mount_of(_existing(key), table)
        if mount is not None and mount.fstype in REMOTE_FILESYSTEMS:
            found.append((key, mount))
    return found
