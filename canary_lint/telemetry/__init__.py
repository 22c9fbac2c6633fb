"""Telemetry analyzer: can v1's and v2's traces, metrics, logs and error events be told apart?"""
