"""Configuration: the typed settings and their checks, editing config.toml in place, and prompt templates."""
