"""Registered experiments: every public module here registers its experiments on import
(``_schema`` holds the typed-settings vocabulary they share)."""
