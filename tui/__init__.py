"""The window: renders core's state and turns keys into calls on the operations door.

``app`` builds the window (``build_app``, the one factory for users, tests and screenshots) and
owns its long-lived workers; ``reader`` reads the shared state in a thread, one read at a time;
``shared`` is what screens are handed (the door and the snapshots); ``operations`` runs the
dashboard's door operations in threads, one at a time; ``sources`` reads the panes' rows;
``actions`` is the one table of keys; ``bridge`` turns core's events into Textual messages;
``failures`` keeps a failing screen from taking the engine down; ``demo`` and ``screenshots``
are the snapshot scenes.
"""
