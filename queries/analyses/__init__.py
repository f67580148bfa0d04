"""Analyses: what the pages show, written against the engine protocol (queries.engines)."""
