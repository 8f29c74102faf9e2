"""A local stand-in for Checkfront's API 3.0 and its webhooks, with its own SQLite store (see README.md)."""

from bookings.checkfront_sim.simulator import CheckfrontSimulator, SimulatorNotRunning

__all__ = ["CheckfrontSimulator", "SimulatorNotRunning"]
