"""Real file changes under tmp_path become the right jobs: one per settled burst, exact paths."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from enginekit import wait_for
from fakeclaude import ok_script
from watchkit import changed_paths, watch_block, watching

from core.jobs import JobSource, JobState


def test_create_modify_rename_atomic_save_delete(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    with watching(tmp_path / "home", watch_block(notes), ok_script(tmp_path / "claude")) as w:
        w.wait_state(notes, "active")
        steps = [
            (lambda: (notes / "a.md").write_text("one"), "added", ["a.md"]),
            (lambda: (notes / "a.md").write_text("two, longer"), "modified", ["a.md"]),
            (lambda: (notes / "a.md").rename(notes / "b.md"), "changed", ["a.md", "b.md"]),
            (lambda: _atomic_save(notes / "b.md", "three"), "modified", ["b.md"]),
            (lambda: (notes / "b.md").unlink(), "deleted", ["b.md"]),
        ]
        for index, (change, event, paths) in enumerate(steps, start=1):
            change()
            job = w.wait_jobs(index)[-1]
            assert sorted(changed_paths(job, notes)) == paths, job.prompt
            assert job.prompt.startswith(f"These files changed under {notes} ({event}):"), job.prompt
            assert job.source == JobSource.WATCH and job.cwd == str(notes)
            assert w.wait_done(job).state is JobState.SUCCEEDED
        assert len(w.jobs()) == len(steps)


def _atomic_save(path: Path, text: str) -> None:
    """What editors do: write a temp file beside it, then rename it over the original."""
    temp = path.with_name(f".{path.name}.tmp-save")
    temp.write_text(text)
    os.replace(temp, path)


def test_ten_thousand_file_burst_is_one_job_listing_every_path(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    with watching(tmp_path / "home", watch_block(project), ok_script(tmp_path / "claude")) as w:
        assert w.engine.control is not None
        w.engine.control.pause("the burst's job must stay queued to be inspected")
        w.wait_state(project, "active")
        burst = project / "burst"
        burst.mkdir()
        for index in range(10_000):
            (burst / f"file-{index:05d}.txt").write_text("x")
        expected = [f"burst/file-{index:05d}.txt" for index in range(10_000)]

        def one_job_with_all() -> bool:
            jobs = w.jobs()
            return len(jobs) == 1 and (jobs[0].trigger or "").endswith("(+9999 more)")

        wait_for(one_job_with_all, what="one job listing 10,000 paths")
        # A later change joins the still-queued job instead of queuing a twin.
        (project / "sentinel.txt").write_text("last")
        wait_for(lambda: "sentinel.txt" in w.jobs()[-1].prompt, what="the sentinel to join the job")
        (job,) = w.jobs()
        assert sorted(changed_paths(job, project)) == [*expected, "sentinel.txt"]
        assert job.prompt.startswith(f"These files changed under {project} (added):")
        assert job.trigger is not None and job.trigger.endswith("(+10000 more)")


def test_deleted_and_recreated_root_is_watched_again(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "old.txt").write_text("old")
    with watching(tmp_path / "home", watch_block(root), ok_script(tmp_path / "claude")) as w:
        w.wait_state(root, "active")
        shutil.rmtree(root)
        w.wait_state(root, "missing")
        gone = w.wait_jobs(1)[0]
        assert changed_paths(gone, root) == ["old.txt"] and "(deleted)" in gone.prompt
        w.wait_done(gone)
        root.mkdir()
        (root / "new.txt").write_text("new")
        w.wait_state(root, "active")
        wait_for(lambda: any("new.txt" in job.prompt for job in w.jobs()), what="a job for new.txt")
        job = w.jobs()[-1]
        assert changed_paths(job, root) == ["new.txt"] and "(added)" in job.prompt


def test_root_that_does_not_exist_yet_is_picked_up(tmp_path: Path) -> None:
    later = tmp_path / "later"
    with watching(tmp_path / "home", watch_block(later), ok_script(tmp_path / "claude")) as w:
        w.wait_state(later, "missing")
        assert "does not exist yet" in w.service.statuses()[str(later)].reason
        later.mkdir()
        (later / "first.md").write_text("hello")
        w.wait_state(later, "active")
        job = w.wait_jobs(1)[0]
        assert changed_paths(job, later) == ["first.md"]


def test_single_file_watch_survives_atomic_saves(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    todo = folder / "todo.txt"
    todo.write_text("v1")
    (folder / "other.txt").write_text("not watched")
    with watching(tmp_path / "home", watch_block(todo), ok_script(tmp_path / "claude")) as w:
        w.wait_state(todo, "active")
        for round_number in range(1, 3):
            (folder / "other.txt").write_text(f"noise {round_number}")
            _atomic_save(todo, f"v{round_number + 1}")
            job = w.wait_jobs(round_number)[-1]
            assert changed_paths(job, folder) == ["todo.txt"] and "(modified)" in job.prompt
            assert job.cwd == str(folder)
            w.wait_done(job)
        assert len(w.jobs()) == 2


def test_gitignored_and_builtin_ignored_paths_never_trigger(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / ".gitignore").write_text("*.log\nbuild/\n")
    (repo / "docs" / ".gitignore").write_text("drafts/\n!keep.log\n")
    with watching(tmp_path / "home", watch_block(repo), ok_script(tmp_path / "claude")) as w:
        w.wait_state(repo, "active")
        (repo / "debug.log").write_text("ignored by .gitignore")
        (repo / "build").mkdir()
        (repo / "build" / "out.js").write_text("ignored directory")
        (repo / "docs" / "drafts").mkdir()
        (repo / "docs" / "drafts" / "wip.md").write_text("ignored by a nested .gitignore")
        (repo / "node_modules" / "pkg").mkdir(parents=True)
        (repo / "node_modules" / "pkg" / "index.js").write_text("built-in ignore")
        (repo / ".git").mkdir()
        (repo / ".git" / "HEAD").write_text("ref: refs/heads/main")
        (repo / "notes.md.swp").write_text("vim swap")
        (repo / "4913").write_text("vim probe")
        (repo / "docs" / "keep.log").write_text("re-included by a negation")
        (repo / "docs" / "guide.md").write_text("counts")

        def listed() -> list[str]:
            return sorted(path for job in w.jobs() for path in changed_paths(job, repo))

        # The counted files were written last: once both are listed, the rest had their chance.
        wait_for(lambda: {"docs/guide.md", "docs/keep.log"} <= set(listed()), what="both counted files")
        assert listed() == ["docs/guide.md", "docs/keep.log"]


def test_changes_while_flowtui_was_down_become_one_job(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "kept.md").write_text("same")
    (tree / "edited.md").write_text("before")
    (tree / "removed.md").write_text("bye")
    claude = ok_script(tmp_path / "claude")
    with watching(tmp_path / "home", watch_block(tree), claude) as w:
        w.wait_state(tree, "active")
    (tree / "edited.md").write_text("after the restart")
    (tree / "removed.md").unlink()
    (tree / "created.md").write_text("new")
    with watching(tmp_path / "home", watch_block(tree), claude) as w:
        job = w.wait_jobs(1)[0]
        assert sorted(changed_paths(job, tree)) == ["created.md", "edited.md", "removed.md"]
        assert "(changed)" in job.prompt
        w.wait_done(job)
    with watching(tmp_path / "home", watch_block(tree), claude) as w:
        # Nothing changed while down this time: the first job is the sentinel's.
        (tree / "sentinel.md").write_text("s")
        jobs = w.wait_jobs(2)
        assert len(jobs) == 2 and changed_paths(jobs[-1], tree) == ["sentinel.md"]
