"""Structured configuration: every parameter with its unit, default and rationale.

The dataclasses below are registered in Hydra's ConfigStore as the schema of
``configs/config.yaml``; OmegaConf then rejects unknown keys and wrong types
when the YAML files and command-line overrides are composed. Value checks that
types cannot express (ranges, cross-field rules, substance names) live in
:func:`validate`, which runs before a model is built.

Units: days for time, EUR for money, probabilities in [0, 1], rates per day
unless the name says otherwise. Sources are given as ``Author Year``; where a
value is a modelling judgement the comment says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING

from sim.errors import ConfigError
from sim.params import (
    MAX_DAYS,
    MAX_PEOPLE,
    at_least,
    beta_shape,
    check_ranges,
    coefficient,
    duration,
    is_number,
    logsd,
    nonneg,
    positive,
    prob,
    ranged,
    utility,
)
from sim.tables import DAILY_REPORTABLE, SUMMARY_REPORTABLE

#: most units (grams or tablets) of one purchase, per drug class (``model.buyers.units_per_purchase``):
#: a kilogram or a thousand tablets is wholesale, not a user's purchase
MAX_UNITS_PER_PURCHASE = 1000.0
#: why a hazard or rate per month is at most 30: once a day, the event is then certain within days
#: (occasions and attempts are at most one a day per person on the calendar)
PER_MONTH_WHY = "a hazard per month; at 30, once a day, it is certain within days"
#: why a count of markets at the start is at most 1,000: buyers keep a trust and awareness column per
#: market, so it multiplies memory; EMCDDA counted about 650 web shops selling NPS in Europe in 2013
MARKETS_WHY = "markets; buyers keep a column per market, and Europe had about 650 NPS web shops in 2013"
#: why openings per year are at most 100: every market ever opened keeps its column
OPENINGS_WHY = "markets a year; every market opened keeps its column, so openings multiply memory"
#: why a rate per 1,000 online-capable buyers is at most 1,000: one per buyer
PER_1000_WHY = "per 1,000 online-capable buyers; at 1,000 one per buyer"


# --------------------------------------------------------------------------- substances
@dataclass
class SubstanceConfig:
    """One row of the substance table (docs/ODD.md, substances).

    Purity is in the substance's ``purity_unit``: ``fraction`` (share of the
    active compound by weight) for powders and herbs, ``mg`` (mg of active
    compound per tablet or unit) for tablets and blotters.
    """

    name: str = MISSING
    #: cannabis, stimulant, mdma, opioid, psychedelic or nps
    drug_class: str = MISSING
    #: whether possession/sale is prohibited at the start of the run
    controlled: bool = True
    #: street price per unit (gram or tablet), EUR
    street_price_eur: float = positive(
        MISSING,
        why="EUR per gram or tablet; no street drug costs over 1,000 (dealers' lots are counted in units of it)",
        hi=1000.0,
    )
    #: multiplier of the vendors' acquisition cost of this substance (online vendors' cost side;
    #: sim/market/pricing.py); online prices then come out of costs and competition (observed 10-23%
    #: above street prices, van der Gouwe et al. 2017, an input pattern)
    online_cost_factor: float = positive(
        1.0, why="a multiplier of the acquisition cost; at 100 online prices are a hundredfold", hi=100.0
    )
    purity_unit: str = "fraction"
    #: mean and sd of purity of offline (street) samples
    purity_offline_mean: float = ranged(
        MISSING, lo=0.001, hi=1000.0, why="a fraction (at most 1) or mg per tablet; harm divides by it, so at least 0.001"
    )
    purity_offline_sd: float = nonneg(MISSING, why="in the purity unit; at most the largest purity", hi=1000.0)
    #: mean and sd of purity of online samples (vendor-level draw)
    purity_online_mean: float = ranged(
        MISSING, lo=0.001, hi=1000.0, why="a fraction (at most 1) or mg per tablet; harm divides by it, so at least 0.001"
    )
    purity_online_sd: float = nonneg(MISSING, why="in the purity unit; at most the largest purity", hi=1000.0)
    #: probability that the street has the substance on a given purchase attempt
    street_availability: float = prob(1.0)
    #: relative harm per purchase (unit dose of average purity); cannabis = 1
    harm_weight: float = nonneg(1.0, why="harm per dose relative to cannabis (1); the table's largest is 8", hi=1000.0)
    #: share of all purchases that are of this substance (demand mix; normalised)
    demand_share: float = nonneg(MISSING, why="a weight of the demand mix (normalised); no bound of its own: the generic bound")
    #: whether clearnet web shops may sell it (legal-grey or NPS)
    webshop_sellable: bool = False
    #: substitution nest: a buyer who wants a substance may buy another of the same nest instead
    #: (docs/ODD.md, demand); empty = the drug class
    nest: str = ""
    #: an NPS analogue of the named substance: absent from the market (and from the demand mix)
    #: until that substance is banned, then sold online in its place; empty = a substance of its own
    analogue_of: str = ""
    #: share of street deals that are not as described (wrong substance or far lower content).
    #: Drug checking found adulteration and mis-selling about as common offline as online
    #: (van der Gouwe et al. 2017; about 4-10% of samples); the default matches the online rate
    not_as_described_offline: float = prob(0.04)
    #: share of online deliveries not as described besides vendors' scams; None = the market-wide
    #: ``model.escrow.not_as_described_prob`` (analogues of unknown identity are higher)
    not_as_described_online: float | None = prob(None)


# --------------------------------------------------------------------------- model parts
@dataclass
class BuyerConfig:
    """Buyers: drug users in the modelled population (docs/ODD.md, entities)."""

    #: mean purchase occasions per month (intended purchases, any channel); lognormal across buyers.
    #: About six in ten end in a purchase at default prices (model.demand.abstain_utility; more for
    #: buyers with online options, who have more to choose from), so users buy about 1.1 times a
    #: month (measured in the default run). Modelling judgement for recreational users who buy for
    #: themselves and friends.
    #: Bound: above 30 a month a buyer is at one occasion a day, the most the calendar holds per person,
    #: so the run's work is bounded by people x days whatever the rate; a million keeps the rate's log
    #: and inverse far inside float range (a test runs at it: every user decides about once a day)
    purchases_per_month_mean: float = positive(
        1.8, why="occasions a month, divided by; above 30 a buyer is at one a day, the most the calendar holds", hi=1e6
    )
    #: sd of log(purchase rate) across buyers: a heavy right tail of demand, a minority of frequent
    #: buyers making much of the purchases (Norbutas 2018: on Abraxas 10% of buyers made over half
    #: of them). Assumption: 1.2 puts about 47% of purchase occasions in the top decile
    purchases_per_month_logsd: float = logsd(1.2)
    #: share able to use Tor and cryptocurrency (gates cryptomarkets and decentralised markets).
    #: At the start; it grows as the skill spreads (model.demand.skill_*), so that the online share
    #: of classic-drug purchases starts at a few percent (van der Gouwe et al. 2017: 1.4-4.1% of
    #: samples bought online, 2013-2015). Calibrated (docs/calibration.md: Optuna study of 64 trials, commit f4df17a, 2026-11-29; the best trial's value to three significant digits); was 0.025
    tech_skill_share: float = prob(0.0118)
    #: share with access to an offline dealer (the street option)
    offline_access_share: float = prob(0.9)
    #: share who use web shops at all (clearnet, no Tor); NPS users are the main group. Calibrated (docs/calibration.md: Optuna study of 64 trials, commit f4df17a, 2026-11-29; the best trial's value to three significant digits), at
    #: the lower end of the range searched (0.1-0.4): the NPS online share stays above its band; was 0.25
    webshop_use_share: float = prob(0.1)
    #: share who use drug checking (harm reduction; lowers harm of bad products)
    drug_checking_share: float = prob(0.1)
    #: share who encrypt their shipping address to the vendor's PGP key, so that a seized market
    #: database holds no readable address of theirs (a takedown's ``pgp_protection``). About 90%
    #: encryption use was reported by practitioners at a 2024 EU policy meeting behind the project;
    #: far lower on the first cryptomarkets (assumption for this population)
    pgp_share: float = prob(0.9)
    #: price sensitivity: lognormal multiplier of the price coefficient, sd of its log
    price_sensitivity_logsd: float = logsd(0.3)
    #: risk aversion: Beta(a, b) across buyers
    risk_aversion_a: float = beta_shape(2.0)
    risk_aversion_b: float = beta_shape(2.0)
    #: initial trust in known markets, [0, 1]
    initial_trust: float = prob(0.6)
    #: trust learning rates after own outcomes (negative experiences weigh more:
    #: Przepiorka et al. 2017 on reputation in cryptomarkets; modelling judgement for size)
    trust_gain: float = prob(0.08)
    trust_loss: float = prob(0.35)
    #: trust in the favourite vendor below which the buyer forgets that vendor
    vendor_forget_threshold: float = prob(0.3)
    #: initial trust in a newly known market (unknown and untrusted, docs/ODD.md, entities)
    new_market_trust: float = prob(0.3)
    #: probability that a purchase is of the buyer's usual substance (else drawn from the population's
    #: mix); assumption: most users have a main drug
    usual_substance_prob: float = prob(0.7)
    #: share of the harm of a not-as-described product avoided by buyers who use drug checking
    #: (assumption: checking detects most mis-sold products before use)
    drug_checking_harm_reduction: float = prob(0.8)
    #: units (grams or tablets) per purchase by drug class; value = units x unit price. Assumption:
    #: typical user-level quantities (EMCDDA European Drug Report ranges)
    units_per_purchase: dict[str, float] = field(
        default_factory=lambda: {"cannabis": 5.0, "stimulant": 1.0, "mdma": 2.0, "opioid": 1.0, "psychedelic": 3.0, "nps": 2.0}
    )


@dataclass
class DemandConfig:
    """Whether, what and how often buyers buy; who uses at all (docs/ODD.md, demand).

    Each purchase occasion is a nested choice between not buying and buying a substance of the
    buyer's substitution nest on a channel; people start and stop using with hazards that respond to
    the same utilities, arrests deter, and skill with Tor spreads (all event-driven: no day passes
    over all buyers).
    """

    #: utility of not buying at a purchase occasion, logit units relative to a street deal of the
    #: usual substance at table prices. Calibrated: the price elasticity of purchases (every price
    #: +10% for a year, same seed) must lie in the published range -0.3 to -1.0 (Gallet 2014; AIC
    #: systematic review: about -0.9 on average); measured -0.74 over five seeds (docs/validation.md).
    #: About 37% of occasions then end without a purchase
    abstain_utility: float = utility(-1.0)
    #: dissimilarity of the nest of all buying alternatives against not buying, (0, 1]: below 1,
    #: other substances and channels are closer substitutes of an unavailable option than not
    #: buying is (assumption); must be at least ``choice.nest_lambda``
    buy_nest_lambda: float = ranged(0.85, lo=0.0, hi=1.0, lo_open=True, why="dissimilarity of a nested logit; 1 = plain logit")
    #: utility of a substitute from the focal substance's nest relative to the focal one, logit
    #: units. Assumption: most users stick to their drug (cross-price elasticities between drugs
    #: are small, Gallet 2014). At 4 the baseline's mix of purchases stays that of the table (NPS
    #: 7.5% of purchases against a 7% demand share, default run; at 3 it is 14%: web shops then draw
    #: stimulant users to NPS), and a ban or shortage moves some users to substitutes
    substitute_penalty: float = coefficient(4.0)
    #: the same for an analogue of the focal substance (sold as its replacement after a ban;
    #: assumption: close in effect and marketed as such)
    analogue_penalty: float = coefficient(1.0)
    #: utility penalty of a substance after the buyer's drug check found it not as described,
    #: logit units (assumption)
    distrust_penalty: float = coefficient(1.0)
    #: stopping hazard of a user per month at occasions when they buy; times
    #: ``abstain_stop_multiplier`` at occasions when they do not (price, risk, campaigns and
    #: shortages raise stopping through not buying). Measured in the default run: about 2.5% of
    #: users stop a month, a quarter a year (assumption, in the range of one-year discontinuation
    #: among past-year users in general population panels)
    stop_hazard_per_month: float = nonneg(0.01, why=PER_MONTH_WHY, hi=30.0)
    abstain_stop_multiplier: float = nonneg(
        5.0, why="a multiplier of the stopping hazard; at 100 not buying once means stopping", hi=100.0
    )
    #: people at risk who do not use at the start (former and would-be users), per user: they are
    #: simulated too, so that starting can respond to prices and campaigns (assumption). The
    #: population has n_buyers x (1 + this) rows
    potential_users_per_user: float = nonneg(
        0.5, why="people per user; the population has n_buyers x (1 + this) rows, so it sets memory and work", hi=100.0
    )
    #: start attempts per month of a person at risk; an attempt that ends in a purchase starts use.
    #: Set so that starting about balances stopping in the baseline: users fall by about 5% over
    #: three years in the default run, most of it in the first months (assumption)
    start_attempts_per_month: float = nonneg(0.075, why=PER_MONTH_WHY, hi=30.0)
    #: skill with Tor and cryptocurrency spreads as in a Bass (1969) diffusion: a non-skilled person
    #: learns with hazard innovation + imitation x (share of people skilled) + news interest, per
    #: month, checked at their purchase occasions. Calibrated to the observed growth of online
    #: buying (online share of drug-checking samples tripled 2013-2015, van der Gouwe et al. 2017;
    #: last-year darknet purchasing 4.5% -> 6.7% of surveyed users, Global Drug Survey)
    #: The imitation coefficient is Calibrated (docs/calibration.md: Optuna study of 64 trials, commit f4df17a, 2026-11-29; the best trial's value to three significant digits); was 0.02
    skill_innovation_per_month: float = nonneg(0.001, why=PER_MONTH_WHY, hi=30.0)
    skill_imitation_per_month: float = nonneg(0.00735, why=PER_MONTH_WHY, hi=30.0)
    #: specific deterrence: an arrested buyer stops for good with this probability (assumption) ...
    arrest_quit_prob: float = prob(0.1)
    #: ... else pauses for an exponential time of this mean, days (assumption) ...
    arrest_pause_days_mean: float = duration(90.0)
    #: ... and afterwards avoids the channel where they were arrested: utility penalty, logit units
    #: (assumption)
    arrest_channel_penalty: float = coefficient(1.0)
    #: harm of a dose rises with its strength relative to what the buyer expects to this power:
    #: above 1, unexpected strength harms more than proportionally (overdose), so content
    #: uncertainty raises expected harm (assumption)
    dose_harm_exponent: float = nonneg(
        2.0, why="an exponent; at 10 a dose twice as strong as expected harms 1,000 times as much", hi=10.0
    )


@dataclass
class ChoiceConfig:
    """Random-utility (logit) coefficients of the purchase choice (docs/ODD.md, entities).

    Utilities are in logit units. Channel -> market -> listing is a nested logit;
    ``nest_lambda`` is the dissimilarity parameter of the channel nests (1 = plain MNL).
    """

    beta_price: float = coefficient(2.0)  #: per unit of log(price / street price)
    beta_quality: float = coefficient(0.5)  #: per unit of purity relative to the street mean
    beta_trust: float = coefficient(3.0)  #: per unit of market trust
    beta_reputation: float = coefficient(2.0)  #: per unit of vendor reputation score (Bayesian mean rating)
    beta_feedback: float = coefficient(0.6)  #: per unit of log(1 + feedback count)
    beta_risk: float = coefficient(1.5)  #: per unit of perceived risk times buyer risk aversion
    #: per unit of a listing's seizure probability, ``customs_prob[origin] x (1 - stealth)`` (the
    #: route's customs or postal inspection and the vendor's stealth): buyers prefer listings that
    #: ship from their own country when inspection rises. Assumption: at the default rates and the
    #: mean stealth (0.4) the term is about 0.1 for EU and 0.36 for non-EU listings; under a parcel
    #: interdiction (0.3) about 0.9
    beta_seizure_risk: float = coefficient(5.0)
    beta_loyalty: float = coefficient(2.0)  #: bonus for the favourite vendor, times trust in it
    nest_lambda: float = ranged(0.7, lo=0.0, hi=1.0, lo_open=True, why="dissimilarity of a nested logit; 1 = plain logit")
    #: sd of a buyer's lasting taste for each hidden market, logit units: markets differ in interface,
    #: community, language and admins, and users differ in what they like, so they do not all
    #: prefer the same market (product differentiation lets markets coexist). Calibrated (docs/calibration.md: Optuna study of 64 trials, commit f4df17a, 2026-11-29; the best trial's value to three significant digits),
    #: against the market-coexistence pattern; was 2.0 (assumption)
    market_taste_sd: float = coefficient(1.64, why="sd in logit units; at 20 tastes alone decide the market")
    #: dissimilarity of the listings of one substance on one market, the innermost nest: a market's
    #: value to a buyer is lambda x log-sum(listing utility / lambda), so n times the listings add
    #: lambda x log(n): listings of the same drug are close substitutes and variety is worth
    #: little beyond the first few. Vendors price against it: their markup is Berry's (1994)
    #: nested-logit markup with nest correlation 1 - lambda, from 1 / (1 - 1 / (beta_price /
    #: lambda)) among many competitors to 1 / (1 - 1 / beta_price) alone (assumption)
    listing_lambda: float = ranged(
        0.5, lo=0.01, hi=1.0, why="dissimilarity of a nested logit; 1 = plain logit; vendors' markups divide by it"
    )
    #: the same for the nest of web shops: shops sell the same legal-grey range, so a buyer does not
    #: value ten shops much more than one (assumption; with the cryptomarkets' 0.7, the many shops
    #: made NPS an attractive substitute for every stimulant user)
    nest_lambda_webshop: float = ranged(0.3, lo=0.0, hi=1.0, lo_open=True, why="dissimilarity of a nested logit; 1 = plain logit")
    #: online-capable buyers at which a market's listing inclusive value is taken as is. Vendors of
    #: cryptomarkets and decentralised markets scale with the population, so such a market's log-sum
    #: over listings grows as the log of the population; the choice subtracts listing_lambda x
    #: log(online-capable buyers / this) (not for web shops: one seller each whatever the size), which keeps the
    #: choice between street and online markets independent of the population size. Default: the
    #: online-capable buyers of the default 20,000-buyer population when the convenience constants
    #: were set (before Tor skill spread and tech_skill_share was lowered to 0.025; today's default
    #: has about 5,400); kept so that the constants keep their meaning (assumption)
    listing_reference_online_buyers: float = positive(
        5900.0, why="people; a log of a ratio to it is taken; at most the largest population", hi=MAX_PEOPLE
    )
    #: convenience constants per channel (relative to offline = 0); cryptomarkets need Tor and
    #: crypto, decentralised markets more so. Web shops and cryptomarkets: Calibrated (docs/calibration.md: Optuna study of 64 trials, commit f4df17a, 2026-11-29; the best trial's value to three significant digits),
    #: against the online share of purchases (van der Gouwe et al. 2017: classic <= 6%, NPS > 1/3);
    #: were -0.4 and -0.2
    conv_offline: float = utility(0.0)
    conv_webshop: float = utility(-1.02)
    conv_cryptomarket: float = utility(-0.134)
    conv_decentralised: float = utility(-1.0)
    #: perceived risk per channel, [0, 1]: arrest on the street, parcel interception online
    risk_offline: float = prob(0.4)
    risk_webshop: float = prob(0.15)
    risk_cryptomarket: float = prob(0.25)
    risk_decentralised: float = prob(0.3)
    #: the reference listing against which listings are centred (so that channel constants compare a
    #: typical market with the street dealer): its Bayesian score and feedback count (assumption)
    reference_score: float = prob(0.8)
    reference_feedback: float = nonneg(20.0, why="feedbacks; no bound of its own: the generic bound")


@dataclass
class MarketConfig:
    """Marketplaces: centralised escrow cryptomarkets, decentralised markets, web shops."""

    initial_cryptomarkets: int = nonneg(6, why=MARKETS_WHY, hi=1000)
    initial_decentralised: int = nonneg(1, why=MARKETS_WHY, hi=1000)
    initial_webshops: int = nonneg(10, why=MARKETS_WHY, hi=1000)
    #: share of web shops registered in the country of the buyers (domestic)
    webshop_domestic_share: float = prob(0.5)
    #: openings per year. Cryptomarkets: 24 closures 2011-2019 (ElBahrawy et al. 2020) and
    #: about a hundred markets overall (Norbutas et al. 2020) -> several a year. Calibrated (docs/calibration.md: Optuna study of 64 trials, commit f4df17a, 2026-11-29; the best trial's value to three significant digits); was 5
    new_cryptomarkets_per_year: float = nonneg(6.31, why=OPENINGS_WHY, hi=100.0)
    new_decentralised_per_year: float = nonneg(0.5, why=OPENINGS_WHY, hi=100.0)
    new_webshops_per_year: float = nonneg(4.0, why=OPENINGS_WHY, hi=100.0)
    #: exit-scam hazard per day: base + per_10k x (escrow in units of 10,000 EUR per 1,000
    #: online-capable buyers). Markets rarely live longer than a year, mean about 8 months (Norbutas
    #: et al. 2020). The escrow is taken per 1,000 online-capable buyers because a market's escrow
    #: from the modelled buyers grows with their number, while the operator decides on the market's
    #: whole (global) escrow: so the hazard does not depend on the population size. The default
    #: equals 0.004 per 100,000 EUR at 20,000 buyers with about 5,900 online-capable. The base is
    #: Calibrated (docs/calibration.md: Optuna study of 64 trials, commit f4df17a, 2026-11-29; the best trial's value to three significant digits); was 0.0015
    exit_scam_hazard_base: float = prob(0.000991)
    exit_scam_hazard_per_10k_escrow_per_1000_online_buyers: float = nonneg(
        0.00236, why="a daily probability per unit of escrow (the hazard is capped at 1)", hi=1.0
    )
    #: voluntary closure hazard per day (retirement, technical failure)
    voluntary_close_hazard: float = prob(0.0008)
    #: a market that has sold closes when its orders over the last 45 days fall below this many per
    #: 1,000 online-capable buyers (it lost its trade). A rate, not a count, so that the answer does
    #: not depend on the population size (markets are global; the modelled buyers are one country's).
    #: Assumption: at the default 20,000 buyers (about 5,900 online-capable) it means no order in 45 days.
    idle_close_orders_45d_per_1000_online_buyers: float = nonneg(0.15, why=PER_1000_WHY, hi=1000.0)
    #: a market that never sold closes this many days after it opened (it never found users); assumption
    close_if_never_sold_days: int = duration(180, lo=1)
    #: daily probability that a market is down (DDoS, maintenance); buyers cannot use it that day
    downtime_prob: float = prob(0.03)
    #: commission on each sale, share of the price (Silk Road charged 6-10%; Soska & Christin 2015)
    commission_cryptomarket: float = ranged(
        0.05, lo=0.0, hi=1.0, hi_open=True, why="a share of the price; 1 would leave vendors nothing"
    )
    commission_decentralised: float = ranged(
        0.01, lo=0.0, hi=1.0, hi_open=True, why="a share of the price; 1 would leave vendors nothing"
    )
    #: share of buyers with Tor skill who learn of a new market when it opens (announcement)
    new_market_seed_awareness: float = prob(0.02)
    #: share of online-capable buyers initially aware of the largest starting market; others
    #: follow a Zipf profile of sizes
    initial_awareness_largest: float = prob(0.8)
    zipf_exponent: float = nonneg(
        1.0, why="an exponent of the rank; at 10 the second market is known to a thousandth of the first's", hi=10.0
    )
    #: share of buyers able to use them who know each initial decentralised market / web shop
    #: (assumption: smaller and less advertised than the largest cryptomarket)
    initial_awareness_decentralised: float = prob(0.1)
    initial_awareness_webshop: float = prob(0.3)
    #: weight of a decentralised market when initial vendors choose markets, relative to the largest
    #: cryptomarket (assumption: few vendors there)
    decentralised_vendor_weight: float = nonneg(
        0.1, why="relative to the largest cryptomarket; at 1,000 decentralised markets take every vendor", hi=1000.0
    )
    #: market security (resilience to a takedown yielding records): Beta(a, b) across markets (assumption)
    security_a: float = beta_shape(2.0)
    security_b: float = beta_shape(2.0)
    #: operator greed, the exit-scam hazard multiplier: lognormal with median 1, sd of its log (assumption)
    operator_greed_logsd: float = logsd(0.5)
    #: days over which a closure's news is spread (a post every 3 days), days
    migration_news_days: int = duration(30, why="days; the news is spread by a post every 3 days, so at most a year", hi=365)


@dataclass
class EscrowConfig:
    """Orders and escrow (docs/ODD.md, entities, centralised markets)."""

    shipping_days_domestic: float = duration(3.0)  #: mean shipping delay, days (Poisson around it)
    shipping_days_cross_border: float = duration(7.0)
    #: customs seizure probability of a parcel from outside the EU at zero stealth (the base rate of
    #: the route with customs at the external border; domestic parcels are never inspected).
    #: Assumption: with ``route_customs_factor_eu`` 0.3 and the default origins (EU 0.40, non-EU 0.15
    #: of vendors) the mean over cross-border vendors is about 0.06, the single cross-border rate
    #: used before routes were modelled
    customs_seizure_prob: float = prob(0.12)
    #: seizure probability of a parcel from another EU member state, as a share of
    #: ``customs_seizure_prob``. Assumption: no customs at the EU's internal borders (a customs
    #: union), only postal inspection and risk-based checks
    route_customs_factor_eu: float = prob(0.3, why="a share of the non-EU rate: EU parcels are inspected no more than others")
    #: probability a parcel is lost in the post
    lost_in_post_prob: float = prob(0.01)
    #: probability a delivered order is not as described (wrong substance, very low purity)
    not_as_described_prob: float = prob(0.04)
    #: days after payment at which escrow auto-finalises (Silk Road: 14 days)
    auto_finalise_days: int = duration(14, lo=1)
    #: probability the buyer clicks finalise on delivery (else auto-finalise)
    finalise_on_delivery_prob: float = prob(0.8)
    #: probability that a buyer whose order did not arrive or was not as described disputes
    dispute_prob: float = prob(0.7)
    #: days the market needs to resolve a dispute
    dispute_resolution_days: int = duration(5, lo=1)
    #: probability the market refunds a dispute in the buyer's favour
    refund_prob: float = prob(0.6)
    #: finalise-early allowed for vendors with at least this many feedbacks and this score
    finalise_early_min_feedback: int = nonneg(50, why="feedbacks; no bound of its own: the generic bound")
    finalise_early_min_score: float = prob(0.9)
    #: probability that a buyer leaves feedback after the outcome
    feedback_prob: float = prob(0.7)
    #: days after the expected arrival at which a buyer concludes that a parcel is not coming (assumption)
    patience_days: int = duration(3)
    #: purity of a not-as-described product relative to the advertised one (assumption)
    not_as_described_purity_factor: float = nonneg(
        0.3, why="relative to the advertised purity; at 10 the product is ten times as strong", hi=10.0
    )
    #: harm multiplier of consuming a not-as-described product of unknown content (assumption)
    not_as_described_harm_factor: float = nonneg(2.0, why="a multiplier of harm per dose", hi=1000.0)
    #: share of finalise-early eligible vendors who demand it; scammers always do (assumption)
    finalise_early_demand_prob: float = prob(0.5)


@dataclass
class VendorConfig:
    """Vendors (docs/ODD.md, entities)."""

    #: initial cryptomarket/decentralised vendors per 1,000 buyers with Tor skill.
    #: Modelling judgement: a few hundred buyers per vendor, as in Soska & Christin 2015.
    vendors_per_1000_online_buyers: float = nonneg(
        25.0, why="vendors per 1,000 online-capable buyers; at 1,000 every such buyer is a vendor", hi=1000.0
    )
    #: origin of new cryptomarket and decentralised vendors (the route of their parcels,
    #: sim/domain.py ``Origin``): shares shipping from another EU member state and from outside the
    #: EU; the rest (0.45 by default) ship domestically, with no customs check. Rough shares: drug
    #: revenue on cryptomarkets goes mostly to vendors in North America and Western Europe (Kruithof
    #: et al. 2016, RAND, "Internet-facilitated drugs trade"), and buyers in an EU country are served
    #: mostly from within Europe; the split of the 0.55 abroad into EU 0.40 and non-EU 0.15 is an
    #: assumption. Web shops' sellers are domestic if the shop is (``webshop_domestic_share``), else EU
    origin_eu_share: float = prob(0.40)
    #: share of vendors shipping from outside the EU (assumption, as above)
    origin_non_eu_share: float = prob(0.15)
    #: stealth skill Beta(a, b): reduces customs seizure probability proportionally
    stealth_a: float = beta_shape(2.0)
    stealth_b: float = beta_shape(3.0)
    #: operational security Beta(a, b): lowers arrest hazards
    opsec_a: float = beta_shape(3.0)
    opsec_b: float = beta_shape(2.0)
    #: share of vendors with a selective-scam propensity; their scam probability per order
    scammer_share: float = prob(0.08)
    scam_prob_scammer: float = prob(0.35, why="a probability per order")
    scam_prob_honest: float = prob(0.01, why="a probability per order")
    #: weekly probability that a finalise-early scammer vendor exit-scams
    exit_scam_weekly_prob: float = prob(0.05)
    #: days an exit-scamming vendor keeps taking orders without shipping
    exit_scam_days: int = duration(14, lo=1)
    #: capacity, orders per day; lognormal median and sd of log
    capacity_median: float = positive(
        3.0, why="orders a day, the median of a lognormal distribution; no vendor ships 10,000 a day", hi=10_000.0
    )
    capacity_logsd: float = logsd(0.8)
    #: weekly capacity growth of a vendor whose orders exceed its capacity: share of capacity per week
    #: per unit of load above 1, the excess counted up to 1 (cumulative advantage: successful vendors
    #: scale up; assumption)
    capacity_growth_weekly: float = nonneg(0.1, why="a share of capacity a week; at 1 capacity doubles in a week", hi=1.0)
    #: maximum substances per vendor
    max_substances: int = at_least(3, 1, why="substances per vendor; more than any substance table holds", hi=1000)
    #: mean number of substances beyond the first (1 + Poisson, capped at max_substances; assumption)
    extra_substances_mean: float = nonneg(0.6, why="a Poisson mean, capped at max_substances", hi=1000.0)
    #: price surcharge per unit of load (orders / capacity) above 1: overloaded vendors raise prices (assumption)
    load_surcharge: float = nonneg(
        0.1, why="a share of the price per unit of load; at 10 an overload of a tenth doubles it", hi=10.0
    )
    #: Bayesian prior on ratings, in pseudo-ratings: a new vendor's score is good / count = 0.8 (assumption)
    rating_prior_good: float = nonneg(4.0, why="pseudo-ratings; no bound of its own: the generic bound")
    rating_prior_count: float = positive(5.0, why="pseudo-ratings; it is divided by")
    #: web shops: stealth of their parcels (fixed) and capacity relative to a vendor's (a shop ships
    #: for many buyers) at the choice's reference population (``listing_reference_online_buyers``
    #: online-capable buyers), in proportion to the population; assumptions
    webshop_stealth: float = prob(0.3)
    webshop_capacity_factor: float = positive(
        10.0, why="vendors' capacities per shop; at 10,000 a shop ships for a city", hi=10_000.0
    )
    #: mean markets listed on at entry or after losing all markets, beyond the first (1 + Poisson;
    #: assumption: most vendors single-home, ElBahrawy et al. 2020)
    extra_markets_mean: float = nonneg(0.2, why="a Poisson mean of markets; more than ever open at once", hi=1000.0)
    #: the least a vendor expects from any market: orders per 30 days (x 7/30 per week) per 1,000
    #: online-capable buyers, a floor of ``market_opportunity``, so that a market without sales yet
    #: (a new one) can attract vendors. A rate, so that new markets' pull does not depend on the
    #: population size (assumption: one order at the default 20,000 buyers, about 5,900 online-capable)
    new_market_pull_orders_per_1000_online_buyers: float = positive(
        0.17, why="a market with no sales must have a weight; " + PER_1000_WHY, hi=1000.0
    )
    # --- prices (sim/market/pricing.py): unit cost x a markup set by competition
    #: acquisition cost per unit, share of the street retail price (times the substance table's
    #: ``online_cost_factor``): vendors buy upstream, above the kilo level, below retail
    #: (assumption; retail prices are two to three times wholesale prices, Caulkins & Reuter 1998,
    #: EMCDDA price data, and cryptomarket vendors buy in between). Calibrated (docs/calibration.md: Optuna study of 64 trials, commit f4df17a, 2026-11-29; the best trial's value to three significant digits), with the
    #: online_price_premium pattern in the objective (an input, not an independent check); was 0.55
    acquisition_cost_share: float = ranged(0.64, lo=0.0, hi=1.0, lo_open=True, why="a share of the retail price")
    #: shipping and packaging per order, EUR (assumption: a letter stamp and vacuum-sealed stealth packaging)
    shipping_cost_eur_per_order: float = nonneg(0.5, why="EUR per order; more than any order is worth", hi=10_000.0)
    #: risk premium, share of cost (assumption)
    risk_premium: float = nonneg(0.08, why="a share of cost; at 10 prices are elevenfold", hi=10.0)
    #: the risk premium of substances that are not controlled, relative to that of controlled ones (assumption)
    uncontrolled_risk_factor: float = nonneg(0.5, why="relative to controlled substances' risk premium", hi=100.0)
    #: price premium at the best reputation, share of the price (Eschenbaum & Liebert 2021 find
    #: reputation earns an almost one-for-one price premium; the size is an assumption)
    reputation_premium: float = nonneg(
        0.12, why="a share of the price; at 10 the best reputation sells at eleven times the price", hi=10.0
    )
    #: ceiling of the competitive markup over unit cost, before the reputation and load premiums
    #: (assumption: buyers' outside options)
    max_markup: float = ranged(3.0, lo=1.0, hi=100.0, why="price / cost")
    #: share of the gap between the current and the target markup (in logs) closed each week
    #: (assumption: sticky prices, about two weeks to adjust)
    price_adjustment_weekly: float = ranged(0.5, lo=0.0, hi=1.0, lo_open=True, why="a share of the way")
    #: spread of unit costs across vendors, sd of log (assumption)
    price_logsd: float = logsd(0.1)
    #: weekly probability that a vendor with spare capacity considers adding a market; it joins the
    #: market where one more vendor can expect the most orders (``market_opportunity``: its audience x
    #: orders per buyer-market awareness / (its vendors + 1)) if the margin expected there over
    #: ``bond_payback_weeks`` exceeds ``vendor_bond_eur`` (assumption)
    add_market_weekly_prob: float = prob(0.05)
    #: vendor bond or listing fee paid to join a market, EUR (cryptomarkets asked vendor bonds of
    #: the order of USD 100-1,000, e.g. AlphaBay and Dream Market; the value is an assumption)
    vendor_bond_eur: float = nonneg(300.0, why="EUR; no bound of its own: the generic bound")
    #: weeks of expected margin a vendor sets against the bond (assumption)
    bond_payback_weeks: float = nonneg(8.0, why="weeks; at most the longest horizon", hi=MAX_DAYS / 7)
    #: weekly probability of quitting for any reason, baseline (vendors on hidden markets; a web
    #: shop's seller stays while its shop is open)
    quit_weekly_prob: float = prob(0.006)
    #: extra weekly quit probability if no sale for 4 weeks
    quit_idle_weekly_prob: float = prob(0.15)
    #: share of reputation (feedback count) that travels to a new market (PGP-signed identity)
    reputation_portability: float = prob(0.5)
    #: new vendors per week per 100 online orders per week above capacity (entry follows demand)
    entry_per_100_unserved: float = nonneg(
        1.0, why="vendors a week per 100 unserved orders; at 100 every unserved order brings a vendor", hi=100.0
    )
    #: baseline new vendors per week per 1000 Tor-skilled buyers
    entry_base_weekly_per_1000: float = nonneg(
        0.5, why="vendors a week per 1,000 Tor-skilled buyers; at 10 a hundredth of them start selling each week", hi=10.0
    )


@dataclass
class ForumConfig:
    """The forum where reports spread with a delay (docs/ODD.md, entities)."""

    #: days before a post is read
    delay_days: int = duration(2, why="days; the forum keeps a slot per day of delay and window", hi=365)
    post_prob_bad: float = prob(0.3)  #: probability a buyer posts after a bad outcome
    post_prob_good: float = prob(0.05)  #: ... after a good outcome
    daily_read_share: float = prob(0.05)  #: share of online-capable buyers reading the forum each day
    #: how far a reader moves market trust towards the forum's good-outcome share
    trust_weight: float = prob(0.15)
    #: posts over the window, per 1,000 online-capable buyers, at which a market's signal has full
    #: weight (a rate, so that a market's forum signal does not depend on the population size;
    #: assumption: 20 posts at the default 20,000 buyers)
    full_weight_posts_per_1000_online_buyers: float = positive(3.4, why="it is divided by; " + PER_1000_WHY, hi=1000.0)
    #: posts older than this are not read
    window_days: int = duration(30, lo=1, why="days; the forum keeps a slot per day of delay and window", hi=3650)
    #: probability that a reader learns of a market, times the market's share of forum posts
    awareness_prob: float = prob(0.5)
    #: probability that a reader learns of each open market (web shops included) from directory
    #: sites and search that list every market whatever its size (for hidden markets: DeepDotWeb,
    #: later dark.fail and Dread; assumption)
    directory_learn_prob: float = prob(0.01)
    #: closure news: the forum talks about the surviving markets of the same kind in proportion to
    #: their 30-day orders (what users can see of their size), with total weight of the closed
    #: market's 30-day orders, at least this many posts per 1,000 online-capable buyers
    #: (assumption: 10 posts at the default 20,000 buyers)
    closure_news_min_weight_per_1000_online_buyers: float = nonneg(1.7, why=PER_1000_WHY, hi=1000.0)


@dataclass
class EnforcementConfig:
    """Background law enforcement (arrests come mostly from the physical world)."""

    #: daily arrest hazard of a vendor at zero opsec with no sales (cash-out, informants)
    vendor_arrest_hazard: float = prob(0.0003)
    #: additional hazard per 100 orders shipped in the last 30 days
    vendor_arrest_hazard_per_100_orders: float = prob(0.0005, why="a daily probability per 100 orders")
    #: probability a seized parcel leads to a controlled delivery (buyer arrest)
    controlled_delivery_prob: float = prob(0.05)
    #: probability a seized parcel leads to its vendor's arrest
    seized_parcel_vendor_arrest_prob: float = prob(0.02)
    #: daily arrest hazard of a street buyer per purchase
    street_buyer_arrest_prob: float = prob(0.0005)
    #: arrest hazard at zero opsec relative to the hazards above, which are those of a vendor of opsec
    #: 0.5: hazard x multiplier x (1 - opsec) (assumption)
    zero_opsec_hazard_multiplier: float = nonneg(2.0, why="a multiplier of daily arrest hazards", hi=100.0)


@dataclass
class StreetConfig:
    """The offline street market (the outside option of buyers with a dealer)."""

    #: spread of street prices across deals, sd of log price (assumption)
    price_logsd: float = logsd(0.15)
    # --- the street's supply: dealers who restock weekly, partly online (sim/agents/dealer.py)
    #: street dealers per 1,000 users at the start (assumption; what the street sells is set by
    #: the buyers' demand, and the share of it bought online by ``online_dealer_share``, which is
    #: met by dealer size in every substance; this sets how many dealers share it)
    dealers_per_1000_users: float = positive(10.0, why="the street needs dealers; at 1,000 every user is a dealer", hi=1000.0)
    #: sd of log dealer size (share of its substance's street trade; assumption)
    dealer_size_logsd: float = logsd(1.0)
    #: share of each substance's street trade, by dealer size, held by dealers who buy part of
    #: their stock online (assumption; Demant, Munksgaard & Houborg 2016 describe dealers and
    #: social suppliers stocking up online)
    online_dealer_share: float = prob(0.25)
    #: share of its restock an online-sourcing dealer buys online (assumption; with
    #: ``online_dealer_share`` chosen so that wholesale lots are about a quarter of cryptomarket
    #: revenue, Aldridge & Decary-Hetu 2016: an input pattern, ``wholesale_share``)
    online_sourcing_share: float = prob(0.25)
    #: size of a wholesale lot, EUR of street value (assumption: above the USD 1,000 at which
    #: Aldridge & Decary-Hetu 2016 count a listing as wholesale-sized)
    wholesale_lot_eur: float = at_least(
        1500.0, 100.0, why="EUR; lots are counted in units of it, so a lot below a purchase's worth multiplies them"
    )
    #: quantity discount of a lot against the vendor's retail price per unit (assumption: bulk
    #: listings sell per gram well below single-gram listings)
    bulk_discount: float = ranged(0.4, lo=0.0, hi=1.0, hi_open=True, why="a discount of 1 would make lots free")
    #: share of an online shortfall (lots not placed or not arrived) dealers make up within the
    #: week from the offline import channel (assumption)
    offline_substitution: float = prob(0.5)
    #: elasticity of the street price to short supply: price x (delivered / needed) ** -response
    #: (assumption: prices rise when supply is short, e.g. the UK NPS ban, Home Office 2018)
    price_response: float = ranged(0.5, lo=0.0, hi=5.0, why="an elasticity; above 5 a small shortfall multiplies prices")
    #: weekly share of the way a dealer moves its online buying towards 0 after a week whose lots
    #: all failed, or back towards its habit otherwise (assumption: other sources within about a month)
    sourcing_adaptation_weekly: float = prob(0.25)
    #: utility bonus of a dealer's usual online supplier, logit utility units (assumption)
    dealer_loyalty: float = coefficient(2.0)
    #: memory of the dealers' forecast of weekly street sales, weeks (exponential smoothing; assumption)
    demand_memory_weeks: float = positive(4.0, why="weeks, divided by; at most the longest horizon", hi=MAX_DAYS / 7)


@dataclass
class SocialSupplyConfig:
    """Social supply: users who buy online for a few friends too and pass it on at cost (sim/agents/social.py)."""

    #: share of people who, when they buy online, buy for friends as well (assumption; buying for
    #: friends is common among cryptomarket customers, Demant, Munksgaard & Houborg 2016; Barratt,
    #: Ferris & Winstock 2014). A latent trait: it matters only once the person buys online
    supplier_share: float = prob(0.2)
    #: mean friends who get their drugs from one such supplier (assumption: small friendship
    #: networks, Coomber & Turnbull 2007); each other person has a supplier friend with probability
    #: supplier_share x friends_per_supplier / (1 - supplier_share), capped at 1
    friends_per_supplier: float = nonneg(2.0, why="friends; the chance of a supplier friend is capped at 1", hi=1000.0)
    #: probability that a friend's usual substance is the supplier's (assumption: friends who get
    #: drugs from each other mostly use the same ones)
    shared_drug_prob: float = prob(0.8)
    #: most friends' portions a supplier adds to one order (assumption: social supply quantities
    #: sit between personal use and wholesale, Demant et al. 2016)
    max_portions: int = at_least(8, 1, why="portions per order; at least one for friends, at most a dealer's lot", hi=1000)
    #: price friends pay per unit, relative to what the supplier paid (assumption: social supply is
    #: mostly passed on at cost, "not-for-profit", Coomber & Turnbull 2007)
    markup: float = ranged(
        1.0, lo=0.0, lo_open=True, hi=10.0, why="a multiplier of the supplier's unit price (friends' price enters as its log)"
    )
    #: utility of getting a drug from a friend rather than from a street dealer at the same price and
    #: risk, logit units (assumption: trust and convenience; no dealer contact needed)
    friend_utility: float = utility(1.0)
    #: perceived risk of a purchase from a friend, relative to the street's (assumption)
    friend_risk_share: float = prob(0.3)
    #: value from which any user's online order counts as wholesale-sized, EUR (the USD 1,000 of
    #: Aldridge & Decary-Hetu 2016 at about 0.9 EUR per USD). One portion never comes near it at
    #: default prices; social suppliers' orders with friends' portions may
    wholesale_min_eur: float = positive(900.0, why="EUR; orders are compared with it")


@dataclass
class ModelConfig:
    """All model parameters."""

    n_buyers: int = at_least(20000, 1, why="buyers in the population; more than any EU country's drug users", hi=MAX_PEOPLE)
    buyers: BuyerConfig = field(default_factory=BuyerConfig)
    choice: ChoiceConfig = field(default_factory=ChoiceConfig)
    demand: DemandConfig = field(default_factory=DemandConfig)
    markets: MarketConfig = field(default_factory=MarketConfig)
    escrow: EscrowConfig = field(default_factory=EscrowConfig)
    vendors: VendorConfig = field(default_factory=VendorConfig)
    forum: ForumConfig = field(default_factory=ForumConfig)
    enforcement: EnforcementConfig = field(default_factory=EnforcementConfig)
    street: StreetConfig = field(default_factory=StreetConfig)
    social: SocialSupplyConfig = field(default_factory=SocialSupplyConfig)


@dataclass
class InterventionConfig:
    """One scheduled action of a scenario (concrete kinds arrive with the interventions issue)."""

    name: str = MISSING
    start_day: int = duration(MISSING)  #: day it starts (0 = first recorded day)
    end_day: int | None = duration(None)  #: day it is reverted (None: never)
    #: where it applies (interventions that select markets); None = "largest"
    target: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ScenarioConfig:
    """A named list of interventions."""

    name: str = "baseline"
    interventions: list[InterventionConfig] = field(default_factory=list)


@dataclass
class RunConfig:
    """How to run: horizon, progress bar, figures."""

    #: horizon in days (default two years, docs/ODD.md, scales)
    days: int = duration(730, lo=1, why="the horizon; at most a century")
    progress: bool = True  #: progress bar (only shown on a terminal)
    figures: bool = True  #: write the figures/ folder
    #: refuse a run whose estimated memory need exceeds what the machine has (sim/preflight.py)
    check_memory: bool = True
    #: also run the counterfactual (same config and seed, no interventions) of a scenario with
    #: interventions, and measure effects against it (docs/outputs.md); turn off only in sweeps
    #: that hold a baseline arm, whose collection then pairs runs by seed
    counterfactual: bool = True
    #: days simulated before day 0 of the outputs (not recorded), so that reputations, trust and
    #: vendor entry settle before measurement (modelling judgement)
    burn_in_days: int = duration(60, why="days; ten years settle any start", hi=3650)


@dataclass
class ReportConfig:
    """What a sweep's collection reports (set by experiment files)."""

    #: daily columns drawn as time series (mean and 95% band over seeds per scenario)
    metrics: list[str] = field(default_factory=lambda: ["online_value_eur", "mean_trust_online", "harm"])
    #: summary columns tabulated with 95% intervals and paired differences against the baseline
    summary: list[str] = field(
        default_factory=lambda: ["online_volume_eur_per_day", "harm_per_day", "online_drop", "online_days_to_recovery"]
    )
    #: scenario against which paired differences (same seed) are computed
    baseline: str = "baseline"
    #: name of the intervention whose effects runs_summary tabulates (the first of that name in
    #: each run); empty: each run's first intervention. For scenarios with several interventions
    #: (bayonet: a honeypot, then a takedown) name the one the question is about
    intervention: str = ""
    #: smoothing window of time series figures, days
    smooth_days: int = duration(7, lo=1, why="a moving-average window, days")
    #: draw the comparison figures of collected/figures (the design commands, whose sweeps have a
    #: setting per point, turn them off: hundreds of settings make figures no one reads)
    figures: bool = True


@dataclass
class Config:
    """Root of the configuration tree (configs/config.yaml)."""

    seed: int = nonneg(
        0, why="seeds of numpy generators are non-negative; at most 2^32 - 1, as numpy's legacy seeds", hi=2**32 - 1
    )
    run: RunConfig = field(default_factory=RunConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    substances: list[SubstanceConfig] = field(default_factory=list)
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    #: experiment name (set by experiment files; names the sweep folder)
    experiment: str = "adhoc"
    report: ReportConfig = field(default_factory=ReportConfig)


EXPERIMENTS_DIR = Path(__file__).resolve().parent.parent / "experiments"
SCENARIO_DIR = Path(__file__).resolve().parent.parent / "configs" / "scenario"


def register_configs() -> None:
    """Register the schema, and the files of ``experiments/`` as the ``experiment`` group.

    Experiments live in ``experiments/`` (one file per experiment, ``# @package _global_``); they
    are stored in Hydra's ConfigStore so that ``+experiment=NAME`` works from any directory. A file
    that is not valid YAML is left out here and reported, with its line, only when it is used
    (:func:`sim.preflight.check_experiment_file`), so one broken file cannot break every command.
    """
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    from sim.yamlfiles import read_limited

    _register_resolvers()
    cs = ConfigStore.instance()
    cs.store(name="config_schema", node=Config)
    for f in sorted(EXPERIMENTS_DIR.glob("*.yaml")):
        try:  # within the size and alias limits: a hostile file must not hang every command
            node = OmegaConf.create(read_limited(f)[0])
        except Exception:  # noqa: BLE001 - reported when the experiment is used
            continue
        cs.store(group="experiment", name=f.stem, node=node, package="_global_")


def _register_resolvers() -> None:
    """``${run_token:}``: six hex digits drawn once per process, so that run folders never collide."""
    import secrets

    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("run_token"):
        OmegaConf.register_new_resolver("run_token", lambda: secrets.token_hex(3), use_cache=True)


# --------------------------------------------------------------------------- validation
_CLASSES = ("cannabis", "stimulant", "mdma", "opioid", "psychedelic", "nps")
_PURITY_UNITS = ("fraction", "mg")
#: names that end up in folder names: letters, digits, '_', '-' and '.', not starting with '.'
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


#: longest name that becomes part of a folder or file name (file systems allow 255 bytes for the whole)
MAX_NAME = 80


def check_folder_name(key: str, value: str) -> None:
    """Refuse a value that becomes part of a folder name if it could leave its folder.

    Raises:
        ConfigError: for path separators, ``..``, a leading dot or other characters.
    """
    if not _SAFE_NAME.fullmatch(str(value)) or ".." in str(value) or len(str(value)) > MAX_NAME:
        text = str(value)
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise ConfigError(
            f"{key}={shown!r}: names a folder; allowed are letters, digits, '_', '-' and '.', "
            f"starting with a letter, digit or '_', without '..' or path separators, at most {MAX_NAME} characters"
        )


def validate(cfg: Config) -> None:
    """Check what types cannot: every declared range in one pass, names, cross-field rules.

    The interventions' own parameters are checked where they are declared
    (:func:`sim.interventions.check_scenario`); :func:`sim.runner.to_config` runs both.

    Raises:
        ConfigError: naming the key, the value and what is allowed.
    """
    check_ranges(cfg, "")
    check_folder_name("experiment", cfg.experiment)
    check_folder_name("scenario.name", cfg.scenario.name)
    total_markets = (
        cfg.model.markets.initial_cryptomarkets + cfg.model.markets.initial_decentralised + cfg.model.markets.initial_webshops
    )
    if total_markets < 1:
        raise ConfigError("model.markets: at least one initial market is needed (initial_cryptomarkets, ...)")
    _validate_substances(cfg.substances)
    _validate_report(cfg.report)
    for inner in ("nest_lambda", "nest_lambda_webshop"):
        if cfg.model.demand.buy_nest_lambda < getattr(cfg.model.choice, inner):
            raise ConfigError(
                f"model.demand.buy_nest_lambda={cfg.model.demand.buy_nest_lambda}: must be at least "
                f"model.choice.{inner}={getattr(cfg.model.choice, inner)} (a nested logit's inner nests are the more alike)"
            )
    vc = cfg.model.vendors
    if vc.origin_eu_share + vc.origin_non_eu_share > 1.0 + 1e-12:
        raise ConfigError(
            f"model.vendors.origin_eu_share={vc.origin_eu_share} and origin_non_eu_share={vc.origin_non_eu_share}: "
            "shares of vendors by origin; they must add up to at most 1 (domestic vendors are the rest)"
        )
    if vc.rating_prior_good >= vc.rating_prior_count:
        raise ConfigError(
            f"model.vendors.rating_prior_good={vc.rating_prior_good}: must be below rating_prior_count={vc.rating_prior_count} "
            "(a new vendor's score, good / count, must be below 1)"
        )
    units = cfg.model.buyers.units_per_purchase
    for s in cfg.substances:
        # at most MAX_UNITS_PER_PURCHASE: a purchase's value is units x unit price, and lots and
        # social suppliers' orders are counted in purchases
        u = units.get(s.drug_class)
        if not (is_number(u) and 0 < u <= MAX_UNITS_PER_PURCHASE):
            raise ConfigError(
                f"model.buyers.units_per_purchase: needs a number in (0, {MAX_UNITS_PER_PURCHASE:g}] (grams or tablets) for "
                f"drug class {s.drug_class!r} (substance {s.name}); has {dict(units)}"
            )
    for i, iv in enumerate(cfg.scenario.interventions):
        where = f"scenario.interventions[{i}]"
        if iv.start_day < 0 or iv.start_day >= cfg.run.days:
            raise ConfigError(f"{where}.start_day={iv.start_day}: must lie in [0, run.days={cfg.run.days})")
        if iv.end_day is not None and iv.end_day <= iv.start_day:
            raise ConfigError(f"{where}.end_day={iv.end_day}: must be after start_day={iv.start_day}")


def check_scenario_name(cfg: Config) -> None:
    """Refuse a scenario with interventions named like the baseline (sweeps compare against that name)."""
    if cfg.scenario.name == cfg.report.baseline and cfg.scenario.interventions:
        raise ConfigError(
            f"scenario.name={cfg.scenario.name}: the baseline's name, but the scenario has interventions; "
            "give it a name of its own (scenario.name=...)"
        )


def _validate_report(rc: ReportConfig) -> None:
    """Refuse metrics a sweep's collection does not know (they would silently be left out)."""
    for key, allowed in (("metrics", DAILY_REPORTABLE), ("summary", SUMMARY_REPORTABLE)):
        for m in getattr(rc, key):
            if m not in allowed:
                raise ConfigError(f"report.{key}: unknown metric {m!r}; allowed: {sorted(allowed)}")
    check_folder_name("report.baseline", rc.baseline)


def _validate_substances(subs: list[SubstanceConfig]) -> None:
    if not subs:
        raise ConfigError("substances: the substance table is empty")
    seen: set[str] = set()
    for i, s in enumerate(subs):
        where = f"substances[{i}] ({s.name})"
        if s.name in seen:
            raise ConfigError(f"{where}: duplicate substance name {s.name!r}")
        seen.add(s.name)
        if s.drug_class not in _CLASSES:
            raise ConfigError(f"{where}.drug_class={s.drug_class!r}: allowed {list(_CLASSES)}")
        if s.purity_unit not in _PURITY_UNITS:
            raise ConfigError(f"{where}.purity_unit={s.purity_unit!r}: allowed {list(_PURITY_UNITS)}")
        if s.purity_unit == "fraction":
            for key in ("purity_offline_mean", "purity_online_mean"):
                value = getattr(s, key)
                if not value <= 1:
                    raise ConfigError(
                        f"{where}.{key}={value}: a purity in 'fraction' units must be <= 1 (or set purity_unit: mg)"
                    )
    if sum(s.demand_share for s in subs if not s.analogue_of) <= 0:
        raise ConfigError("substances: demand_share must be positive for at least one substance")
    for i, s in enumerate(subs):
        if s.analogue_of and s.analogue_of not in seen:
            raise ConfigError(
                f"substances[{i}] ({s.name}).analogue_of={s.analogue_of!r}: not a substance of the table; has {sorted(seen)}"
            )
        if s.analogue_of == s.name:
            raise ConfigError(f"substances[{i}] ({s.name}).analogue_of: a substance cannot be its own analogue")
