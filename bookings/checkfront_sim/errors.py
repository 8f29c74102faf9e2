"""Exceptions the simulator raises, each carrying the HTTP status the API answers with."""

from __future__ import annotations


class SimulatorError(Exception):
    """Base: a request the simulated Checkfront refuses."""

    status = 400


class InvalidInput(SimulatorError):
    """Missing or malformed input (400 with the error envelope)."""


class NotFound(SimulatorError):
    """No such booking, customer, item or resource (404)."""

    status = 404


class MethodNotAllowed(SimulatorError):
    """A write endpoint called with GET (405)."""

    status = 405
