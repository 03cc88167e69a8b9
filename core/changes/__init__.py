"""What a job changed: git trees recorded around each attempt, diffs, and isolated worktrees."""
