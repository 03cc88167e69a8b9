"""Watching paths: file changes become jobs, batched, attributed and never missed.

``rules`` decides which paths count, ``snapshot`` remembers what the tree looked like,
``batching`` turns settled bursts into jobs, ``watcher`` runs ``watchfiles.awatch``
per watch, and ``service`` ties them to the engine and follows the config file.
"""

from __future__ import annotations
