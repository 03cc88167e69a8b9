"""The ledger, the truth about every job.

``store`` is the interface every caller uses and picks the implementation; ``sqlite`` and
``schema`` are the SQLite file, ``redis`` and ``redis_scripts`` the shared store on Redis,
``stats`` the cost and counts per day, and ``notifications`` the outbox's rows (kept in the
same SQLite file, so a notification is as durable as the job it announces).
"""
