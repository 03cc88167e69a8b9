"""The ledger, the truth about every job.

``store`` is the interface every caller uses and picks the implementation; ``sqlite`` and
``schema`` are the SQLite file, ``redis`` and ``redis_scripts`` the shared store on Redis, and
``stats`` the cost and counts per day.
"""
