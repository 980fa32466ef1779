"""The reference universe the simulator trades: a deterministic, realistic-looking security
master, brokers, custodians, traders and mandates, generated from a seed.

Pure: returns plain dataclasses; `book.services.universe_load` stores them. Two scales:
`demo` (what `make run` loads: about 60 equities, 24 bonds, 6 FX pairs, 5 mandates) and
`standard` (the benchmark: 1,000 instruments and 20 mandates).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from .identifiers import isin_make

CURRENCIES = {
    "USD": ("US dollar", 2),
    "EUR": ("Euro", 2),
    "GBP": ("Pound sterling", 2),
    "JPY": ("Japanese yen", 0),
    "CHF": ("Swiss franc", 2),
}

# GICS sectors, with a rough share of a global equity index (weights the draw of names).
SECTORS = {
    "Information Technology": 0.20,
    "Health Care": 0.13,
    "Financials": 0.14,
    "Consumer Discretionary": 0.11,
    "Communication Services": 0.08,
    "Industrials": 0.10,
    "Consumer Staples": 0.07,
    "Energy": 0.06,
    "Utilities": 0.03,
    "Real Estate": 0.03,
    "Materials": 0.05,
}
# Where listed companies come from, with their currency and share of names.
COUNTRIES = {
    "US": ("USD", 0.62),
    "GB": ("GBP", 0.10),
    "DE": ("EUR", 0.08),
    "FR": ("EUR", 0.07),
    "JP": ("JPY", 0.08),
    "CH": ("CHF", 0.05),
}  # noqa: E501
SECTOR_SUFFIX = {
    "Information Technology": ["Systems", "Software", "Semiconductor", "Networks", "Digital"],
    "Health Care": ["Therapeutics", "Medical", "Biosciences", "Health", "Pharma"],
    "Financials": ["Bancorp", "Financial", "Capital", "Insurance", "Holdings"],
    "Consumer Discretionary": ["Retail", "Motors", "Brands", "Leisure", "Apparel"],
    "Communication Services": ["Media", "Telecom", "Interactive", "Broadcasting", "Wireless"],
    "Industrials": ["Industries", "Aerospace", "Logistics", "Machinery", "Rail"],
    "Consumer Staples": ["Foods", "Beverages", "Household", "Grocers", "Farms"],
    "Energy": ["Petroleum", "Energy", "Drilling", "Pipelines", "Resources"],
    "Utilities": ["Power", "Utilities", "Water", "Electric", "Gas"],
    "Real Estate": ["Realty", "Properties", "REIT", "Estates", "Land"],
    "Materials": ["Chemicals", "Mining", "Steel", "Materials", "Paper"],
}
SYLLABLES = [
    "nor",
    "vex",
    "al",
    "tri",
    "cor",
    "ban",
    "lum",
    "zen",
    "ka",
    "ri",
    "ost",
    "mer",
    "dal",
    "sil",
    "ver",
    "qua",
    "tor",
    "ion",
    "pel",
    "gra",
    "ny",
    "fen",
    "bri",
    "sto",
]  # noqa: E501
# US Treasury coupons on the grid the Treasury uses (1/8 of a percent).
UST_TENORS = [1, 2, 3, 5, 7, 10, 20, 30]
FX_PAIRS = [
    ("EUR", "USD"),
    ("GBP", "USD"),
    ("USD", "JPY"),
    ("USD", "CHF"),
    ("EUR", "JPY"),
    ("EUR", "GBP"),
]  # noqa: E501


@dataclass(frozen=True)
class InstrumentSpec:
    ticker: str
    name: str
    asset_class: str
    currency: str
    isin: str | None = None
    sector: str = ""
    country: str = ""
    base_currency: str | None = None
    # Simulator parameters (simulator.SimInstrument).
    beta: float = 1.0
    sector_beta: float = 1.0
    idio_vol: float = 0.25
    initial_price: float = 100.0
    dividend_yield: float = 0.0
    credit_spread_bp: float = 0.0
    # Bonds.
    coupon_rate: float | None = None
    frequency: int = 2
    day_count: str = "ACT/ACT"
    issue_date: dt.date | None = None
    maturity_date: dt.date | None = None
    issuer: str = ""
    rating: str = ""


@dataclass(frozen=True)
class BrokerSpec:
    code: str
    name: str
    commission_bps: Decimal
    min_commission: Decimal
    confirmation_lag_ticks: int
    confirms_per_order: bool


@dataclass(frozen=True)
class MandateSpec:
    code: str
    name: str
    strategy: str
    base_currency: str
    custodian: str
    initial_capital: Decimal
    management_fee_rate: Decimal
    # Benchmark lines: (kind, key, weight) with kind in instrument / sector / asset_class.
    benchmark: tuple[tuple[str, str, Decimal], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Universe:
    instruments: tuple[InstrumentSpec, ...]
    brokers: tuple[BrokerSpec, ...]
    custodians: tuple[tuple[str, str], ...]
    traders: tuple[tuple[str, str], ...]
    mandates: tuple[MandateSpec, ...]


SCALES = {
    "demo": {"equities": 60, "govt_bonds": 12, "corp_bonds": 12, "mandates": 5},
    "standard": {"equities": 800, "govt_bonds": 80, "corp_bonds": 114, "mandates": 20},
}


def _name(rng: np.random.Generator, sector: str) -> str:
    parts = rng.choice(SYLLABLES, size=int(rng.integers(2, 4)))
    stem = "".join(parts).capitalize()
    return f"{stem} {rng.choice(SECTOR_SUFFIX[sector])}"


def _ticker(name: str, taken: set[str], rng: np.random.Generator) -> str:
    letters = "".join(ch for ch in name.upper() if ch.isalpha())
    for length in (3, 4, 5):
        candidate = letters[:length]
        if candidate not in taken:
            return candidate
    while True:
        candidate = letters[:3] + "".join(rng.choice(list("ABCDEFGHJKLMNPRSTVWXYZ"), size=2))
        if candidate not in taken:
            return candidate


def _national_id(rng: np.random.Generator) -> str:
    return "".join(rng.choice(list("0123456789ABCDEFGHJKLMNPRSTVWXYZ"), size=9))


def _issue_date(around: dt.date, day: int, as_of: dt.date) -> dt.date:
    """The `day` of `around`'s month, a month earlier if that is after `as_of` (a bond in
    the universe has been issued by the time the simulation starts)."""
    issued = dt.date(around.year, around.month, day)
    if issued > as_of:
        month = issued.month - 1 or 12
        issued = dt.date(issued.year - (issued.month == 1), month, day)
    return issued


def build_universe(*, seed: int, scale: str = "demo", as_of: dt.date) -> Universe:
    """The universe for a seed and scale, with bonds issued around `as_of`."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}")
    size = SCALES[scale]
    rng = np.random.default_rng(seed)
    taken: set[str] = set()
    isins: set[str] = set()
    instruments: list[InstrumentSpec] = []

    def unique_isin(country: str) -> str:
        while True:
            isin = isin_make(country, _national_id(rng))
            if isin not in isins:
                isins.add(isin)
                return isin

    sectors = list(SECTORS)
    sector_p = np.array(list(SECTORS.values()))
    countries = list(COUNTRIES)
    country_p = np.array([share for _, share in COUNTRIES.values()])
    equities: list[InstrumentSpec] = []
    for _ in range(size["equities"]):
        sector = str(rng.choice(sectors, p=sector_p / sector_p.sum()))
        country = str(rng.choice(countries, p=country_p / country_p.sum()))
        name = _name(rng, sector)
        ticker = _ticker(name, taken, rng)
        taken.add(ticker)
        price = float(np.round(np.exp(rng.normal(np.log(60), 0.8)), 2))
        if COUNTRIES[country][0] == "JPY":
            price = float(np.round(price * 100))
        equities.append(
            InstrumentSpec(
                ticker=ticker,
                name=f"{name} {'Inc' if country == 'US' else 'plc' if country == 'GB' else 'AG' if country in ('DE', 'CH') else 'SA' if country == 'FR' else 'KK'}",  # noqa: E501
                asset_class="equity",
                currency=COUNTRIES[country][0],
                isin=unique_isin(country),
                sector=sector,
                country=country,
                beta=float(np.round(np.clip(rng.normal(1.0, 0.25), 0.3, 1.8), 3)),
                sector_beta=float(np.round(np.clip(rng.normal(1.0, 0.2), 0.4, 1.6), 3)),
                idio_vol=float(np.round(np.clip(rng.normal(0.22, 0.07), 0.08, 0.5), 3)),
                initial_price=price,
                dividend_yield=float(np.round(np.clip(rng.normal(0.02, 0.012), 0, 0.06), 4)),
            )
        )
    instruments += equities

    for index in range(size["govt_bonds"]):
        tenor = UST_TENORS[index % len(UST_TENORS)]
        # Issued at most (tenor - 1) years ago, so at least a year is left to run.
        issued = as_of - dt.timedelta(days=int(rng.integers(0, 365 * min(tenor - 1, 5) + 1)))
        issued = _issue_date(issued, 15, as_of)
        maturity = dt.date(issued.year + tenor, issued.month, 15)
        coupon = float(np.round(rng.uniform(0.5, 4.0) * 8) / 8) / 100
        ticker = f"T {coupon * 100:.3f} {maturity:%m/%y}"
        while ticker in taken:
            maturity = maturity + dt.timedelta(days=31)
            ticker = f"T {coupon * 100:.3f} {maturity:%m/%y}"
        taken.add(ticker)
        instruments.append(
            InstrumentSpec(
                ticker=ticker,
                name=f"United States Treasury {coupon * 100:.3f}% {maturity:%Y-%m-%d}",
                asset_class="govt_bond",
                currency="USD",
                isin=unique_isin("US"),
                sector="Government",
                country="US",
                coupon_rate=coupon,
                issue_date=issued,
                maturity_date=maturity,
                issuer="United States Treasury",
                rating="AA+",
                idio_vol=0.0,
            )
        )

    for index in range(size["corp_bonds"]):
        issuer_equity = equities[index % len(equities)]
        tenor = int(rng.choice([3, 5, 7, 10]))
        issued = _issue_date(as_of - dt.timedelta(days=int(rng.integers(0, 365 * 2))), 1, as_of)
        maturity = dt.date(issued.year + tenor, issued.month, 1)
        rating = str(rng.choice(["AA", "A", "BBB"], p=[0.2, 0.45, 0.35]))
        spread = {"AA": 60.0, "A": 100.0, "BBB": 170.0}[rating] * float(rng.uniform(0.7, 1.3))
        coupon = float(np.round(rng.uniform(2.0, 6.0) * 8) / 8) / 100
        ticker = f"{issuer_equity.ticker} {coupon * 100:.3f} {maturity:%m/%y}"
        while ticker in taken:
            maturity = maturity + dt.timedelta(days=31)
            ticker = f"{issuer_equity.ticker} {coupon * 100:.3f} {maturity:%m/%y}"
        taken.add(ticker)
        instruments.append(
            InstrumentSpec(
                ticker=ticker,
                name=f"{issuer_equity.name} {coupon * 100:.3f}% {maturity:%Y-%m-%d}",
                asset_class="corp_bond",
                currency="USD",
                isin=unique_isin("US"),
                sector=issuer_equity.sector,
                country="US",
                coupon_rate=coupon,
                day_count="30/360",
                issue_date=issued,
                maturity_date=maturity,
                issuer=issuer_equity.name,
                rating=rating,
                credit_spread_bp=float(np.round(spread, 1)),
                idio_vol=0.0,
            )
        )

    for base, quote in FX_PAIRS:
        instruments.append(
            InstrumentSpec(
                ticker=f"{base}{quote}",
                name=f"{base}/{quote} spot",
                asset_class="fx",
                currency=quote,
                base_currency=base,
                sector="FX",
            )
        )

    brokers = (
        BrokerSpec("GSCO", "Goldman Sachs & Co", Decimal("2.0"), Decimal("5"), 2, False),
        BrokerSpec("MSCO", "Morgan Stanley & Co", Decimal("2.5"), Decimal("5"), 3, False),
        BrokerSpec("JPMS", "J.P. Morgan Securities", Decimal("1.8"), Decimal("7.5"), 2, True),
        BrokerSpec("BARC", "Barclays Capital", Decimal("3.0"), Decimal("5"), 4, False),
        BrokerSpec("UBSS", "UBS Securities", Decimal("2.2"), Decimal("10"), 1, True),
    )
    custodians = (("BNYM", "BNY Mellon"), ("STST", "State Street"))
    traders = (
        ("AKI", "Aiko Kimura"),
        ("BEN", "Ben Okafor"),
        ("CLA", "Claire Dubois"),
        ("DAN", "Daniel Ruiz"),
    )  # noqa: E501
    mandates = _mandates(size["mandates"], instruments, rng)
    return Universe(tuple(instruments), brokers, custodians, traders, mandates)


MANDATE_TEMPLATES = [
    ("GEQ", "Global Equity Core", "equity_core"),
    ("USSR", "US Sector Rotation", "equity_sector"),
    ("BAL", "Balanced 60/40", "balanced"),
    ("USFI", "US Fixed Income", "fixed_income"),
    ("GMAC", "Global Macro", "global_macro"),
]


def _mandates(
    count: int, instruments: list[InstrumentSpec], rng: np.random.Generator
) -> tuple[MandateSpec, ...]:  # noqa: E501
    sector_weights = {s: Decimal(str(w)) for s, w in SECTORS.items()}
    total = sum(sector_weights.values())
    sector_weights = {s: (w / total).quantize(Decimal("0.0001")) for s, w in sector_weights.items()}
    # Make the rounded weights add to exactly 1.
    first = next(iter(sector_weights))
    sector_weights[first] += Decimal(1) - sum(sector_weights.values())
    benchmarks = {
        "equity_core": tuple(("sector", s, w) for s, w in sector_weights.items()),
        "equity_sector": (
            ("sector", "Information Technology", Decimal("0.35")),
            ("sector", "Health Care", Decimal("0.25")),
            ("sector", "Financials", Decimal("0.2")),
            ("sector", "Industrials", Decimal("0.2")),
        ),  # noqa: E501
        "balanced": (
            ("asset_class", "equity", Decimal("0.6")),
            ("asset_class", "govt_bond", Decimal("0.3")),
            ("asset_class", "corp_bond", Decimal("0.1")),
        ),  # noqa: E501
        "fixed_income": (
            ("asset_class", "govt_bond", Decimal("0.6")),
            ("asset_class", "corp_bond", Decimal("0.4")),
        ),  # noqa: E501
        "global_macro": (
            ("asset_class", "equity", Decimal("0.5")),
            ("asset_class", "govt_bond", Decimal("0.5")),
        ),  # noqa: E501
    }
    specs = []
    for index in range(count):
        code, name, strategy = MANDATE_TEMPLATES[index % len(MANDATE_TEMPLATES)]
        if index >= len(MANDATE_TEMPLATES):
            code, name = (
                f"{code}{index // len(MANDATE_TEMPLATES) + 1}",
                f"{name} {index // len(MANDATE_TEMPLATES) + 1}",
            )  # noqa: E501
        capital = Decimal(int(rng.integers(20, 200))) * Decimal(1_000_000)
        specs.append(
            MandateSpec(
                code=code,
                name=name,
                strategy=strategy,
                base_currency="USD",
                custodian="BNYM" if index % 2 == 0 else "STST",
                initial_capital=capital,
                management_fee_rate=Decimal(str(float(rng.choice([0.005, 0.0075, 0.01])))),
                benchmark=benchmarks[strategy],
            )
        )
    return tuple(specs)
