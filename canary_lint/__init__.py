"""canary-lint: can v1 and v2 run side by side, and can we tell them apart?"""

__version__ = "0.1.0"
