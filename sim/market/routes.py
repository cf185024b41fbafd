"""Routes of parcels as plain functions: customs risk by the vendor's origin (docs/ODD.md, order outcome).

A parcel's route is its vendor's :class:`~sim.domain.Origin`. Domestic parcels cross no border;
parcels from another EU member state cross no customs border (the EU is a customs union) and meet
only postal inspection; parcels from outside the EU meet customs at the external border. The
seizure probability of a parcel at zero stealth is one number per origin, the lever
``model.levers.customs_prob``; the vendor's stealth lowers it proportionally. Nothing here needs a
model, so the rules are tested directly (``tests/test_geography.py``).
"""

from __future__ import annotations

import numpy as np

from sim.domain import Origin


def customs_by_origin(base: float, eu_factor: float) -> np.ndarray:
    """Seizure probability at zero stealth per origin: domestic 0, EU ``base x eu_factor``, non-EU ``base``."""
    out = np.zeros(len(Origin))
    out[Origin.EU] = base * eu_factor
    out[Origin.NON_EU] = base
    return out


def seizure_prob(customs: np.ndarray, origin: np.ndarray, stealth: np.ndarray) -> np.ndarray:
    """Probability that customs or postal inspection seizes each parcel: ``customs[origin] x (1 - stealth)``."""
    return customs[origin] * (1.0 - stealth)
