"""The explorer page for ``solara run sim/app.py`` (the same page ``python -m sim.explore`` serves)."""

from sim.explore.page import Page

__all__ = ["Page"]
