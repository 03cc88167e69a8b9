"""The operations on shared state: the one door every surface calls.

``control`` validates, commits (the ledger, config.toml's watches, the Telegram outbox) and
wakes the engine; ``handoff`` is the one place a job becomes queued in the ledger and is
handed to Huey; ``overview`` is what a surface shows at a glance; ``spool`` keeps jobs added
while the shared queue is unreachable.
"""
