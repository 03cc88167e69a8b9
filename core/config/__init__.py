"""Configuration: what config.toml says, checked once, and the few ways it is edited.

``settings`` is the typed model (with the environment overrides' names), ``check`` builds it
from TOML or says in one line why not, ``edit`` changes the user's file with tomlkit,
``watch_path`` is the one normal form of a watch's path, and ``prompts`` fills templates.
"""
