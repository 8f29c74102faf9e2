"""Checkfront: API client, local simulator, booking mirror, sync and webhook handling."""
