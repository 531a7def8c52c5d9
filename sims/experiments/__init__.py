"""Registered experiments: every module here registers its experiments on import."""
