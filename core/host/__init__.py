"""Hosting an engine in a process, and reaching one from outside.

``session`` is what a surface talks to (this process's engine, or another's shared state),
``state`` opens the shared state for the CLI and MCP, ``serve`` runs an engine with no window,
``services`` builds the services a config asks for, and ``logs`` says where log lines go.
"""
