"""Claude runs: one attempt of a job as the Claude Code CLI, and what it writes.

``runner`` starts the CLI in its own process group and follows it, ``environment`` is the
environment it gets, ``stream`` reads stream-json lines, ``events`` types them, ``limits``
recognises usage and rate limits, ``procs`` ends process groups and finds leftovers, and
``transcript`` and ``tail`` render and follow the transcript file.
"""
