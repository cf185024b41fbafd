"""News of a police operation: general deterrence and a publicity effect, both decaying.

After a takedown or a honeypot's shutdown, everyone's perceived risk of hidden markets rises by
``risk`` (general deterrence: Ladegaard 2018 found news of Silk Road's closure and of the Ulbricht
trial changed trade; UNODC World Drug Report 2018: after the 2017 AlphaBay/Hansa operations 15% of
surveyed darknet buyers used darknet markets less and 9% stopped). The same news raises interest:
the hazard of learning Tor skill rises by ``interest`` per month (publicity effect: after the
Ulbricht sentencing one market's daily sales rose from about $100k to $250k, Ladegaard 2018). Both
decay exponentially with ``half_life_days``; after ten half-lives the rest is removed, so the
levers return to where they were (up to floating-point rounding).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.interventions.base import Intervention

#: half-lives after which the remaining shift is removed in one step
HALF_LIVES_KEPT = 10


class Publicity:
    """A decaying shift of ``levers.news_risk`` and ``levers.skill_interest`` (kept by its intervention)."""

    def __init__(self, iv: Intervention, risk: float, interest: float, half_life_days: float) -> None:
        self.model = iv.model
        self.risk, self.interest = float(risk), float(interest)
        self.decay = 0.5 ** (1.0 / half_life_days) if half_life_days > 0 else 0.0
        self.days_left = int(HALF_LIVES_KEPT * half_life_days)
        self.level = 1.0
        self._step = None

    def start(self) -> None:
        """Shift the levers now; decay them daily from tomorrow."""
        from mesa.time import Schedule

        lv = self.model.levers
        lv.news_risk += self.risk
        lv.skill_interest += self.interest
        if self.days_left <= 0:
            self._remove(self.level)
            return
        self._step = self.model.schedule_recurring(self.daily, Schedule(interval=1.0, start=self.model.time + 1.0))

    def daily(self) -> None:
        """One day of decay; the rest goes at the end."""
        self.days_left -= 1
        new = self.level * self.decay if self.days_left > 0 else 0.0
        self._remove(self.level - new)
        self.level = new
        if self.days_left <= 0 and self._step is not None:
            self._step.stop()

    def _remove(self, amount: float) -> None:
        lv = self.model.levers
        lv.news_risk -= self.risk * amount
        lv.skill_interest -= self.interest * amount


def publicity(iv: Intervention, risk: float, interest: float, half_life_days: float) -> None:
    """Start the news effects of ``iv`` (nothing when both are zero)."""
    if risk == 0 and interest == 0:
        return
    news = Publicity(iv, risk, interest, half_life_days)
    iv.keep_alive.append(news)  # keep a strong reference: Mesa holds callbacks weakly
    news.start()
