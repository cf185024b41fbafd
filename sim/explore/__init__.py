"""The interactive explorer: a run and its counterfactual in the browser, interventions applied while it runs.

``session`` holds the model pair (no web code), ``figures`` the live figures, ``page`` the SolaraViz
page; ``python -m sim.explore`` serves it (README "Interactive explorer"; the ``explorer`` extra).
"""
