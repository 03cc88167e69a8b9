"""The engine: recovers what a crash left, runs the workers, and turns runs into ledger rows.

``engine`` holds the ``Engine``, ``service`` the ``Service`` protocol and the ``ServiceContext``
a service is given, ``recovery`` what a start takes back from a dead engine, ``pause`` whether
the engine takes jobs and when a pause ends by itself, ``attempt`` one run of one job, ``outcomes``
what a run's end does to its job, ``budget`` the daily spending limits, and ``leases`` how a
running job survives the death of its worker.
"""
