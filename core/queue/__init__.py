"""The queue: Huey as the transport that carries job ids, and the worker threads that take them."""
