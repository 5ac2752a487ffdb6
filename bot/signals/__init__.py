"""Signals: indicators, votes, quorum (pure), and the loaders that turn data files into their inputs."""
