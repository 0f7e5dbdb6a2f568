"""Dalgo-shaped Prefect flows (dalgo_flows.py, run by the prefect venv) and what both sides share (catalog.py)."""
