"""Failure notifications that explain: one delivery per failure and channel, carrying the stored summary."""
