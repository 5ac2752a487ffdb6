"""Configuration sections, one module per room, composed by `bot.config.AppConfig`.

Every field carries a `description`: `config/default.toml` is generated from them, so the documentation of a
setting lives next to its type and default and cannot drift.
"""
