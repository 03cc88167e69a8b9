"""The engine: recovers what a crash left, runs the workers, and turns runs into ledger rows.

``engine`` holds the ``Engine`` and the ``Service`` protocol, ``outcomes`` what a run's end does
to its job, ``budget`` the daily spending limits, and ``leases`` how a running job survives the
death of its worker.
"""
