"""Git as flowtui calls it: argv only (never a shell), an environment that cannot point git at
another repository or take the user's index lock, and every failure as one line."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

GIT = "git"
_LOCATING = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_PREFIX",
    }
)
"""Variables a hook or a shell may have set that would make git work on another repository."""


class GitError(Exception):
    """A git command failed; the message is one line: what was asked and git's own reason."""


@dataclass(frozen=True)
class RepoState:
    """A repository as a job finds it: its top, its ``HEAD`` commit and the branch checked out."""

    root: Path
    head: str | None
    """None in a repository without a commit yet."""
    branch: str | None
    """None when ``HEAD`` is detached."""


def git_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without what locates a repository, plus ``extra``; optional
    locks off, so reading the user's repository never rewrites its index."""
    env = {name: value for name, value in os.environ.items() if name not in _LOCATING}
    env.update({"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"})
    env.update(extra or {})
    return env


def run_git(
    root: Path | str,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    ok_codes: Sequence[int] = (0,),
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """``git -C root ARGS`` (``stdin`` its input); an exit code outside ``ok_codes`` is a
    :class:`GitError`."""
    argv = [GIT, "-C", str(root), *args]
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            env=git_environment(env),
            check=False,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise GitError(
            "git is not installed (or not on PATH): install git to record a job's changes"
        ) from None
    except OSError as error:
        raise GitError(f"cannot run git: {error.strerror or error}") from None
    if done.returncode not in ok_codes:
        raise GitError(f"git {args[0]} failed in {root}: {_reason(done.stderr) or f'exit {done.returncode}'}")
    return done


def git_text(root: Path | str, args: Sequence[str], *, env: Mapping[str, str] | None = None) -> str:
    """A git command's output, stripped (paths may hold any bytes: they survive the round trip)."""
    return run_git(root, args, env=env).stdout.decode("utf-8", "surrogateescape").strip()


def repo_state(directory: Path | str) -> RepoState | None:
    """The repository ``directory`` is in, or None when it is in none."""
    found = run_git(directory, ["rev-parse", "--show-toplevel"], ok_codes=(0, 128))
    if found.returncode != 0:
        return None
    root = Path(found.stdout.decode("utf-8", "surrogateescape").strip())
    head = run_git(root, ["rev-parse", "-q", "--verify", "HEAD^{commit}"], ok_codes=(0, 1))
    branch = run_git(root, ["symbolic-ref", "-q", "--short", "HEAD"], ok_codes=(0, 1))
    return RepoState(
        root=root,
        head=head.stdout.decode().strip() if head.returncode == 0 else None,
        branch=branch.stdout.decode("utf-8", "surrogateescape").strip() if branch.returncode == 0 else None,
    )


def rev_parse(root: Path | str, name: str) -> str | None:
    """The object ``name`` names, or None when there is none."""
    found = run_git(root, ["rev-parse", "-q", "--verify", name], ok_codes=(0, 1, 128))
    return found.stdout.decode().strip() if found.returncode == 0 else None


def identity_env(root: Path | str) -> dict[str, str]:
    """Who commits: the user's configured identity, or flowtui's when git knows none."""
    known = run_git(root, ["var", "GIT_COMMITTER_IDENT"], ok_codes=(0, 128))
    if known.returncode == 0:
        return {}
    return {
        "GIT_AUTHOR_NAME": "flowtui",
        "GIT_AUTHOR_EMAIL": "flowtui@localhost",
        "GIT_COMMITTER_NAME": "flowtui",
        "GIT_COMMITTER_EMAIL": "flowtui@localhost",
    }


def split_z(output: bytes) -> list[str]:
    """NUL-separated git output (``-z``) as paths."""
    return [part.decode("utf-8", "surrogateescape") for part in output.split(b"\0") if part]


def _reason(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    meaningful = [line for line in lines if line.startswith(("fatal:", "error:"))] or lines
    text = " ".join(meaningful[:2])
    for prefix in ("fatal: ", "error: "):
        text = text.replace(prefix, "")
    return text
