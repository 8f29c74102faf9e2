"""Plumbing the local stand-ins for outside systems share: HTTP server, SQLite store, webhook queue, lifecycle.

Pure standard library and never Django: each simulator keeps its own wire
format, API and rules; only the machinery that is the same in all of them
lives here.
"""
