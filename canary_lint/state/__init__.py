"""Session-state analyzer: state that lives in one process or on one host while v1 and v2 share users."""
