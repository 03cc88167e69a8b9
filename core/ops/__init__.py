"""The operations on shared state: the one door every surface calls.

``control`` validates, writes the ledger, hands jobs to the queue and wakes the engine;
``overview`` is what a surface shows at a glance; ``spool`` keeps jobs added while the shared
queue is unreachable.
"""
