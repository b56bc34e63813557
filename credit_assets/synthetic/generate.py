"""Synthetic loan applications in the exact landing-file format of Home Credit's `application_train.csv`.

The schema (column order, dtypes, missing rates, text levels and their shares, ranges, validation bounds)
comes from `credit_assets.schema`; this module adds only how columns depend on each other and a known
logistic risk model that draws TARGET. Each row's true default probability goes to a Parquet side file, so
a model's AUC can be compared with the oracle's.

A month is built in four stages: complete applicant attributes (no missing values), an optional covariate
drift of chosen columns, the risk model on those attributes (so values that will be hidden still carry
risk, as in real scorecards), then the contract's missing values and TARGET.
"""

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special, stats

from credit_assets.core.blobs import atomic_write
from credit_assets.core.contract import schema
from credit_assets.core.months import FIRST_MONTH, landing_file_name, month_sequence

Columns = dict[str, np.ndarray]
Seed = int | tuple[int, ...]

FIRST_ID = int(schema.column(schema.ID_COLUMN).observed_min)
# Real train IDs interleave with the test file's, so the step between consecutive IDs is geometric.
_ID_STEP_SUCCESS = schema.REAL_ROW_COUNT / (schema.column(schema.ID_COLUMN).observed_max - FIRST_ID + 1)

_FULL_MONTHS, _FULL_MONTH_ROWS = 4, 10_000
SCALES: dict[str, dict[str, int]] = {
    "demo": {"history_rows": 20_000, "months": 4, "rows_per_month": 5_000},
    "full": {
        "history_rows": schema.REAL_ROW_COUNT - _FULL_MONTHS * _FULL_MONTH_ROWS,
        "months": _FULL_MONTHS,
        "rows_per_month": _FULL_MONTH_ROWS,
    },
}

_DAYS_PER_YEAR = 365.25
_SENTINEL = schema.SENTINELS["DAYS_EMPLOYED"]
_EXT_SOURCES = ("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3")
_NON_WORKING_INCOME_TYPES = ("Pensioner", "Unemployed")
_PARTNERED_STATUSES = ("Married", "Civil marriage")
_REVOLVING = "Revolving loans"
_QUIRK_LEVELS = {**schema.PLACEHOLDERS, "ORGANIZATION_TYPE": schema.SENTINEL_ORGANIZATION_TYPE}
_BUILDING_COLUMN = re.compile(r"(?P<base>.+)_(AVG|MODE|MEDI)")

# Shares of yes for binary flags the contract gives no share for (rates seen in the real file).
_FLAG_RATES = {"FLAG_MOBIL": 1.0, "FLAG_CONT_MOBILE": 0.998, "FLAG_PHONE": 0.281, "FLAG_EMAIL": 0.057}
_WORK_PHONE_RATE_EMPLOYED = 0.24
# Each application carries at most one document flag; shares per document, the rest carry none.
_DOCUMENT_SHARES = {
    "FLAG_DOCUMENT_2": 0.00004, "FLAG_DOCUMENT_3": 0.71, "FLAG_DOCUMENT_4": 0.00008,
    "FLAG_DOCUMENT_5": 0.0151, "FLAG_DOCUMENT_6": 0.088, "FLAG_DOCUMENT_7": 0.0002,
    "FLAG_DOCUMENT_8": 0.0814, "FLAG_DOCUMENT_9": 0.0039, "FLAG_DOCUMENT_10": 0.00002,
    "FLAG_DOCUMENT_11": 0.0039, "FLAG_DOCUMENT_12": 0.00001, "FLAG_DOCUMENT_13": 0.0035,
    "FLAG_DOCUMENT_14": 0.0029, "FLAG_DOCUMENT_15": 0.0012, "FLAG_DOCUMENT_16": 0.0099,
    "FLAG_DOCUMENT_17": 0.0003, "FLAG_DOCUMENT_18": 0.0081, "FLAG_DOCUMENT_19": 0.0006,
    "FLAG_DOCUMENT_20": 0.0005, "FLAG_DOCUMENT_21": 0.0003,
}  # fmt: skip
_BUREAU_MEANS = {"HOUR": 0.0064, "DAY": 0.007, "WEEK": 0.034, "MON": 0.267, "QRT": 0.265, "YEAR": 1.9}
# External scores: Beta shape, loadings on (standardised age, creditworthiness); the rest is own noise.
_SCORE_SHAPES = {"EXT_SOURCE_1": (2.3, 2.3), "EXT_SOURCE_2": (2.3, 1.5), "EXT_SOURCE_3": (2.4, 1.8)}
_SCORE_LOADINGS = {"EXT_SOURCE_1": (0.5, 0.3), "EXT_SOURCE_2": (0.1, 0.45), "EXT_SOURCE_3": (0.15, 0.3)}
# Building statistics (*_AVG): median, spread on the logit scale, correlation with the building's size.
_BUILDING_SHAPES = {
    "APARTMENTS": (0.088, 0.8, 0.9), "BASEMENTAREA": (0.076, 0.8, 0.7),
    "YEARS_BEGINEXPLUATATION": (0.982, 0.6, 0.2), "YEARS_BUILD": (0.755, 0.6, 0.3),
    "COMMONAREA": (0.021, 1.0, 0.7), "ELEVATORS": (0.04, 1.2, 0.8), "ENTRANCES": (0.138, 0.8, 0.8),
    "FLOORSMAX": (0.167, 0.7, 0.7), "FLOORSMIN": (0.208, 0.7, 0.7), "LANDAREA": (0.048, 1.0, 0.5),
    "LIVINGAPARTMENTS": (0.076, 0.8, 0.9), "LIVINGAREA": (0.075, 0.8, 0.9),
    "NONLIVINGAPARTMENTS": (0.004, 1.2, 0.4), "NONLIVINGAREA": (0.004, 1.5, 0.4),
}  # fmt: skip
_MODE_NOISE, _MEDI_NOISE = 0.10, 0.03  # deviation of a building's mode and median from its mean (logit scale)
_BUILDING_MISSING_CORRELATION = 0.99  # building columns go missing in blocks, not one by one
_REGION_COUNT, _REGION_CATALOGUE_SEED = 81, 2018
_RATING_SHARES = (0.105, 0.738, 0.157)  # applicants living in regions rated 1, 2 and 3

# The risk model: logit = intercept + sum(weight x term) + latent noise that no column shows.
RISK_WEIGHTS: dict[str, float] = {
    "ext_source_1": -2.3, "ext_source_2": -2.45, "ext_source_3": -2.85, "age_decades": -0.05,
    "employed_years": -0.02, "sentinel": 0.3, "working": 0.3, "male": 0.5, "higher_education": -0.3,
    "lower_secondary": 0.35, "region_rating": 0.5, "id_publish_recency": 0.12, "phone_change_recency": 0.3,
    "city_not_work_city": 0.3, "annuity_to_income": 0.25, "credit_over_goods": 1.0, "goods_size": -0.45,
    "social_defaults": 0.15, "own_car": -0.15, "revolving": -0.3,
}  # fmt: skip
RISK_INTERCEPT = -3.28
LATENT_RISK_SD = 0.3


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate: a history file, then monthly files, optionally with covariate drift in one month."""

    seed: int = 0
    first_month: str = FIRST_MONTH
    history_rows: int = SCALES["demo"]["history_rows"]
    months: int = SCALES["demo"]["months"]
    rows_per_month: int = SCALES["demo"]["rows_per_month"]
    label_latest: bool = True
    drift_month: str | None = None
    drift_columns: tuple[str, ...] = ()
    drift_strength: float = 1.0
    disparity_month: str | None = None  # a month where one group's credit scores are planted lower
    disparity_group: str = "CODE_GENDER=M"  # COLUMN=LEVEL of a text column
    disparity_strength: float = 1.0  # standard deviations the group's external credit scores move down

    def __post_init__(self) -> None:
        months = self.month_keys  # checks first_month
        if self.history_rows < 1 or self.months < 0 or self.rows_per_month < 1:
            raise ValueError("need history_rows >= 1, months >= 0 and rows_per_month >= 1")
        not_features = set(self.drift_columns) - set(schema.column_names(with_target=False)[1:])
        if not_features:
            raise ValueError(f"cannot drift {sorted(not_features)}: not feature columns of the contract")
        if (self.drift_month is None) != (not self.drift_columns):
            raise ValueError("drift_month and drift_columns go together")
        if self.drift_month is not None and self.drift_month not in months:
            raise ValueError(f"drift_month {self.drift_month} is not one of {months}")
        if self.disparity_month is not None:
            if self.disparity_month not in months:
                raise ValueError(f"disparity_month {self.disparity_month} is not one of {months}")
            Disparity.parse(self.disparity_group, self.disparity_strength)

    @classmethod
    def at_scale(cls, scale: str, **options: object) -> "GeneratorConfig":
        """A config with the row counts of a scale preset ('demo' or 'full') and the given options."""
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; presets are {sorted(SCALES)}")
        return cls(**SCALES[scale], **options)  # type: ignore[arg-type]

    @property
    def month_keys(self) -> list[str]:
        """The history month, then each monthly file's month."""
        return month_sequence(self.first_month, self.months + 1)

    def rows_in(self, month_index: int) -> int:
        """Row count of the file at `month_index` (0 is the history)."""
        return self.history_rows if month_index == 0 else self.rows_per_month


@dataclass(frozen=True)
class MonthBatch:
    """One generated landing file's content and the true default probability of each of its rows."""

    month: str
    frame: pd.DataFrame
    probability: np.ndarray


@dataclass(frozen=True)
class Drift:
    """Covariate shift: numbers move by `strength` standard deviations, text leans to rarer levels."""

    columns: tuple[str, ...]
    strength: float

    def applied(self, rng: np.random.Generator, cols: Columns) -> Columns:
        """The columns with the drift applied to the chosen ones."""
        drifted = dict(cols)
        for name in self.columns:
            shift = _reweighted_levels if schema.column(name).is_text else _shifted_numbers
            drifted[name] = shift(rng, name, cols[name], self.strength)
        return drifted


@dataclass(frozen=True)
class Disparity:
    """A real disparity: one group's external credit scores sit `strength` standard deviations lower, so its true
    risk is higher and a fair model declines it more often (what the fair-lending monitor must catch)."""

    column: str
    level: str
    strength: float

    @classmethod
    def parse(cls, group: str, strength: float) -> "Disparity":
        """`COLUMN=LEVEL` of a text contract column, checked against the contract."""
        column, _, level = group.partition("=")
        if column not in schema.column_names() or level not in schema.column(column).levels:
            raise ValueError(f"disparity group {group!r} is not COLUMN=LEVEL of a contract text column")
        return cls(column, level, strength)

    def applied(self, cols: Columns) -> Columns:
        members = cols[self.column] == self.level
        shifted = dict(cols)
        for name in _EXT_SOURCES:
            col, values = schema.column(name), cols[name]
            lowered = np.clip(values - self.strength * np.std(values), col.low, col.high)
            shifted[name] = np.where(members, lowered, values)
        return shifted


def truth_file_name(month: str) -> str:
    """The side file holding the true default probabilities of a month's landing file."""
    return f"default_probability_{month}.parquet"


def generate_landing_files(config: GeneratorConfig, landing_dir: Path, truth_dir: Path) -> list[Path]:
    """Write every month's landing CSV and its probability side file; return the landing file paths."""
    written = []
    for batch in generate_months(config):
        landing_path = Path(landing_dir) / landing_file_name(batch.month)
        atomic_write(landing_path, partial(batch.frame.to_csv, index=False))
        truth = pd.DataFrame({schema.ID_COLUMN: batch.frame[schema.ID_COLUMN], "probability": batch.probability})
        truth_path = Path(truth_dir) / truth_file_name(batch.month)
        atomic_write(truth_path, partial(truth.to_parquet, index=False))
        written.append(landing_path)
    return written


def generate_months(config: GeneratorConfig) -> Iterator[MonthBatch]:
    """Each month's applications in memory, history first; IDs keep ascending across months."""
    last_id = None
    months = config.month_keys
    for index, month in enumerate(months):
        drift = Drift(config.drift_columns, config.drift_strength) if month == config.drift_month else None
        disparity = (
            Disparity.parse(config.disparity_group, config.disparity_strength)
            if month == config.disparity_month
            else None
        )
        frame, probability = generate_applications(
            config.rows_in(index), (config.seed, index), last_id, drift, disparity
        )
        if index == len(months) - 1 and not config.label_latest:
            frame = frame.drop(columns=schema.TARGET_COLUMN)
        last_id = int(frame[schema.ID_COLUMN].iloc[-1])
        yield MonthBatch(month, frame, probability)


def generate_applications(
    n_rows: int,
    seed: Seed,
    after_id: int | None = None,
    drift: Drift | None = None,
    disparity: Disparity | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """`n_rows` labelled applications (all 122 columns) and their true default probabilities.

    IDs start at FIRST_ID, or continue after `after_id` with the same small random gaps.
    """
    rng = np.random.default_rng(seed)
    ids = _application_ids(rng, n_rows, after_id)  # drawn first, so a drift leaves later months' IDs alone
    cols = _complete_applications(rng, n_rows)
    if drift is not None:
        cols = drift.applied(rng, cols)
    if disparity is not None:
        cols = disparity.applied(cols)
    probability = special.expit(risk_logit(cols) + rng.normal(0.0, LATENT_RISK_SD, n_rows))
    cols = _with_missing_values(rng, cols)
    cols[schema.ID_COLUMN] = ids
    cols[schema.TARGET_COLUMN] = (rng.random(n_rows) < probability).astype(np.int64)
    return _contract_frame(cols), probability


def risk_terms(cols: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The risk model's terms, named as in RISK_WEIGHTS, from complete application attributes."""
    value = {name: np.asarray(values) for name, values in cols.items()}
    sentinel = value["DAYS_EMPLOYED"] == _SENTINEL
    education = value["NAME_EDUCATION_TYPE"]
    return {
        **{name.lower(): value[name] - 0.5 for name in _SCORE_SHAPES},
        "age_decades": (-value["DAYS_BIRTH"] / _DAYS_PER_YEAR - 40) / 10,
        "employed_years": np.where(sentinel, 0.0, np.minimum(-value["DAYS_EMPLOYED"] / _DAYS_PER_YEAR, 20) - 5),
        "sentinel": sentinel,
        "working": value["NAME_INCOME_TYPE"] == "Working",
        "male": value["CODE_GENDER"] == "M",
        "higher_education": np.isin(education, ("Higher education", "Academic degree")),
        "lower_secondary": education == "Lower secondary",
        "region_rating": value["REGION_RATING_CLIENT_W_CITY"] - 2,
        "id_publish_recency": (value["DAYS_ID_PUBLISH"] + 3000) / 1000,
        "phone_change_recency": (value["DAYS_LAST_PHONE_CHANGE"] + 1000) / 1000,
        "city_not_work_city": value["REG_CITY_NOT_WORK_CITY"],
        "annuity_to_income": np.log(value["AMT_ANNUITY"] / value["AMT_INCOME_TOTAL"] / 0.17),
        "credit_over_goods": value["AMT_CREDIT"] / value["AMT_GOODS_PRICE"] - 1.1,
        "goods_size": np.log(value["AMT_GOODS_PRICE"] / 450_000),
        "social_defaults": np.minimum(value["DEF_30_CNT_SOCIAL_CIRCLE"], 3),
        "own_car": value["FLAG_OWN_CAR"] == "Y",
        "revolving": value["NAME_CONTRACT_TYPE"] == _REVOLVING,
    }


def risk_logit(cols: Mapping[str, np.ndarray]) -> np.ndarray:
    """The observable part of the default log-odds (the latent noise is added on top)."""
    terms = risk_terms(cols)
    return RISK_INTERCEPT + sum(weight * terms[name] for name, weight in RISK_WEIGHTS.items())


# --- sampling helpers -------------------------------------------------------------------------------------


def _exact_counts(shares: np.ndarray, n: int) -> np.ndarray:
    """Split n by shares with largest-remainder rounding, so rare levels appear once n is large enough."""
    quotas = np.asarray(shares, dtype=float) / np.sum(shares) * n
    counts = np.floor(quotas).astype(np.int64)
    counts[np.argsort(-(quotas - counts), kind="stable")[: n - counts.sum()]] += 1
    return counts


def _draw_levels(rng: np.random.Generator, levels: tuple[str, ...], shares: np.ndarray, n: int) -> np.ndarray:
    """n text values in random order whose level counts match the shares as closely as possible."""
    return rng.permutation(np.repeat(np.array(levels, dtype=object), _exact_counts(shares, n)))


def _sample_levels(rng: np.random.Generator, name: str, n: int) -> np.ndarray:
    """n values of a contract text column with the contract's level shares."""
    col = schema.column(name)
    return _draw_levels(rng, col.levels, np.array(col.level_shares), n)


def _level_share(name: str, level: str) -> float:
    """The contract share of one level of a text column."""
    col = schema.column(name)
    return col.level_shares[col.levels.index(level)]


def _fit(name: str, values: np.ndarray) -> np.ndarray:
    """Values clipped into the contract range: the observed range where known, else the validation bounds."""
    col = schema.column(name)
    low = col.low if col.observed_min is None else max(col.low, col.observed_min)
    high = col.high if col.observed_max is None else min(col.high, col.observed_max)
    return np.clip(values, low, high).astype(np.asarray(values).dtype)


def _round_to(values: np.ndarray, step: float | np.ndarray) -> np.ndarray:
    """Round to the nearest multiple of `step`, as amounts in the real file are."""
    return np.round(values / step) * step


def _stochastic_round(rng: np.random.Generator, values: np.ndarray) -> np.ndarray:
    """Round up with probability equal to the fraction, so the mean is kept."""
    floor = np.floor(values)
    return floor + (rng.random(len(values)) < values - floor)


def _overdispersed_counts(rng: np.random.Generator, mean: float, dispersion: float, n: int) -> np.ndarray:
    """Negative binomial counts: the smaller `dispersion`, the more zeros and the longer the tail."""
    return rng.negative_binomial(dispersion, dispersion / (dispersion + mean), n)


def _age_years(cols: Columns) -> np.ndarray:
    """Age in years from DAYS_BIRTH."""
    return -cols["DAYS_BIRTH"] / _DAYS_PER_YEAR


def _is_sentinel(cols: Columns) -> np.ndarray:
    """Rows whose DAYS_EMPLOYED carries the sentinel: those without an employer (ORGANIZATION_TYPE XNA)."""
    return cols["ORGANIZATION_TYPE"] == schema.SENTINEL_ORGANIZATION_TYPE


def _application_ids(rng: np.random.Generator, n: int, after_id: int | None) -> np.ndarray:
    """Ascending IDs with geometric steps, from FIRST_ID or after `after_id`."""
    steps = rng.geometric(_ID_STEP_SUCCESS, n)
    start = FIRST_ID - steps[0] if after_id is None else after_id
    return start + np.cumsum(steps)


# --- complete applicant attributes, one group of related columns per step -----------------------------------


def _complete_applications(rng: np.random.Generator, n: int) -> Columns:
    """Every contract column except ID and TARGET, without missing values, in contract dtypes."""
    cols: Columns = {}
    for step in _STEPS:
        cols.update({name: _as_contract_dtype(name, values) for name, values in step(rng, cols, n).items()})
    return cols


def _as_contract_dtype(name: str, values: np.ndarray) -> np.ndarray:
    """Values as the contract's dtype: object for text, int64 or float64 for numbers."""
    col = schema.column(name)
    if col.is_text:
        return np.asarray(values, dtype=object)
    typed = np.asarray(values, dtype=col.dtype)
    return typed + typed.dtype.type(0)  # turns -0.0, which a CSV shows as "-0.0", into 0.0


def _employment(rng: np.random.Generator, cols: Columns, n: int) -> Columns:
    """Employer type first: its sentinel level decides who is a pensioner and has no occupation."""
    organization = _sample_levels(rng, "ORGANIZATION_TYPE", n)
    return {
        "ORGANIZATION_TYPE": organization,
        "NAME_INCOME_TYPE": _income_types(rng, organization == schema.SENTINEL_ORGANIZATION_TYPE),
        "OCCUPATION_TYPE": _sample_levels(rng, "OCCUPATION_TYPE", n),
    }


def _income_types(rng: np.random.Generator, sentinel: np.ndarray) -> np.ndarray:
    """Pensioners and the unemployed fill the sentinel rows; the other rows share what is left."""
    col = schema.column("NAME_INCOME_TYPE")
    shares = np.array(col.level_shares)
    non_working = np.where(np.isin(col.levels, _NON_WORKING_INCOME_TYPES), shares, 0.0)
    sentinel_share = _level_share("ORGANIZATION_TYPE", schema.SENTINEL_ORGANIZATION_TYPE)
    rest = np.clip(shares - sentinel_share * non_working / non_working.sum(), 0.0, None)
    values = np.empty(len(sentinel), dtype=object)
    values[sentinel] = _draw_levels(rng, col.levels, non_working, int(sentinel.sum()))
    values[~sentinel] = _draw_levels(rng, col.levels, rest, int((~sentinel).sum()))
    return values


def _person(rng: np.random.Generator, cols: Columns, n: int) -> Columns:
    """Age, then employment, registration and ID document dates that fit into the applicant's life."""
    sentinel = _is_sentinel(cols)
    # Pensioners are older; working-age applicants spread over 20 to 65 with a bulge in their thirties.
    age = np.where(sentinel, 45 + 24 * rng.beta(3.5, 2.0, n), 20.5 + 44.5 * rng.beta(1.6, 2.0, n))
    days_birth = _fit("DAYS_BIRTH", -np.round(age * _DAYS_PER_YEAR)).astype(np.int64)
    age_days = -days_birth
    working_life = age_days - 18 * _DAYS_PER_YEAR
    employed = _fit("DAYS_EMPLOYED", -np.floor(working_life * rng.beta(0.9, 2.2, n)))
    id_issued = np.where(rng.random(n) < 0.35, rng.normal(-4300, 350, n), rng.uniform(-4300, 0, n))
    oldest_id = -(age_days - 14 * _DAYS_PER_YEAR)  # an identity document is issued from age 14
    return {
        "DAYS_BIRTH": days_birth,
        "DAYS_EMPLOYED": np.where(sentinel, _SENTINEL, employed).astype(np.int64),
        "DAYS_REGISTRATION": _fit("DAYS_REGISTRATION", -np.round(age_days * rng.beta(1.1, 2.6, n))),
        "DAYS_ID_PUBLISH": _fit("DAYS_ID_PUBLISH", np.ceil(np.maximum(id_issued, oldest_id))).astype(np.int64),
        "CODE_GENDER": _sample_levels(rng, "CODE_GENDER", n),
        "NAME_EDUCATION_TYPE": _sample_levels(rng, "NAME_EDUCATION_TYPE", n),
        "NAME_FAMILY_STATUS": _sample_levels(rng, "NAME_FAMILY_STATUS", n),
    }


def _household(rng: np.random.Generator, cols: Columns, n: int) -> Columns:
    """Children and family size (children, the client, a partner), housing and car."""
    has_children = rng.random(n) < np.where(_is_sentinel(cols), 0.03, 0.36)
    children = _fit("CNT_CHILDREN", np.where(has_children, 1 + rng.poisson(0.38, n), 0))
    partner = np.isin(cols["NAME_FAMILY_STATUS"], _PARTNERED_STATUSES)
    other_dependant = rng.random(n) < 0.01
    owns_car = _sample_levels(rng, "FLAG_OWN_CAR", n)
    # Car ages: mostly young cars, plus a cluster of 64-65 year old entries as in the real file.
    car_age = np.where(rng.random(n) < 0.03, rng.integers(64, 66, n), np.floor(rng.gamma(1.6, 6.5, n)))
    return {
        "CNT_CHILDREN": children.astype(np.int64),
        "CNT_FAM_MEMBERS": _fit("CNT_FAM_MEMBERS", children + 1.0 + partner + other_dependant),
        "NAME_TYPE_SUITE": _sample_levels(rng, "NAME_TYPE_SUITE", n),
        "NAME_HOUSING_TYPE": _sample_levels(rng, "NAME_HOUSING_TYPE", n),
        "FLAG_OWN_CAR": owns_car,
        "FLAG_OWN_REALTY": _sample_levels(rng, "FLAG_OWN_REALTY", n),
        "OWN_CAR_AGE": _fit("OWN_CAR_AGE", car_age.astype(float)),
    }


def _contacts(rng: np.random.Generator, cols: Columns, n: int) -> Columns:
    """Phone and e-mail flags; only the employed give an employer's or work phone."""
    employed = ~_is_sentinel(cols)
    flags = {name: rng.random(n) < rate for name, rate in _FLAG_RATES.items()}
    return {
        **flags,
        "FLAG_EMP_PHONE": employed,
        "FLAG_WORK_PHONE": employed & (rng.random(n) < _WORK_PHONE_RATE_EMPLOYED),
    }


def _addresses(rng: np.random.Generator, cols: Columns, n: int) -> Columns:
    """Where the client is registered, lives and works; a different region implies a different city."""
    employed = ~_is_sentinel(cols)
    live_city_not_work = employed & (rng.random(n) < 0.22)
    reg_city_not_live = rng.random(n) < 0.078
    live_region_not_work = live_city_not_work & (rng.random(n) < 0.22)
    reg_region_not_live = reg_city_not_live & (rng.random(n) < 0.19)
    return {
        "REG_REGION_NOT_LIVE_REGION": reg_region_not_live,
        "REG_REGION_NOT_WORK_REGION": live_region_not_work | (employed & reg_region_not_live),
        "LIVE_REGION_NOT_WORK_REGION": live_region_not_work,
        "REG_CITY_NOT_LIVE_CITY": reg_city_not_live,
        "REG_CITY_NOT_WORK_CITY": live_city_not_work | (employed & reg_city_not_live & (rng.random(n) < 0.6)),
        "LIVE_CITY_NOT_WORK_CITY": live_city_not_work,
    }


@cache
def _region_catalogue() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fixed country: each region's relative population, share of applicants and rating."""
    rng = np.random.default_rng(_REGION_CATALOGUE_SEED)
    col = schema.column("REGION_POPULATION_RELATIVE")
    raw = np.sort(rng.lognormal(0.0, 0.8, _REGION_COUNT))
    spread = (raw - raw[0]) / (raw[-1] - raw[0])
    population = np.round(col.observed_min + spread * (col.observed_max - col.observed_min), 6)
    applicants = population**0.7 / np.sum(population**0.7)
    # The most populous regions (a tenth of applicants) rate 1, the least populous rate 3.
    more_populous_share = np.cumsum(applicants[::-1])[::-1]
    rating = np.where(
        more_populous_share <= _RATING_SHARES[0], 1, np.where(more_populous_share > 1 - _RATING_SHARES[2], 3, 2)
    )
    return population, applicants, rating


def _region(rng: np.random.Generator, cols: Columns, n: int) -> Columns:
    """The region the client lives in: its population and rating, the city's rating."""
    population, applicants, rating = _region_catalogue()
    region = rng.choice(len(population), size=n, p=applicants)
    region_rating = rating[region]
    # A big city can rate better than its region, a poor region's city a little better too.
    city_better = rng.random(n) < np.where(region_rating == 3, 0.1, np.where(region_rating == 2, 0.01, 0.0))
    return {
        "REGION_POPULATION_RELATIVE": population[region],
        "REGION_RATING_CLIENT": region_rating,
        "REGION_RATING_CLIENT_W_CITY": region_rating - city_better,
    }


def _amounts(rng: np.random.Generator, cols: Columns, n: int) -> Columns:
    """Income, then goods price, credit (goods plus insurance or minus a down payment) and annuity."""
    contract = _sample_levels(rng, "NAME_CONTRACT_TYPE", n)
    revolving = contract == _REVOLVING
    log_income_effect = (
        0.5 * rng.normal(size=n)
        + 0.15 * (cols["CODE_GENDER"] == "M")
        + 0.2 * (cols["NAME_EDUCATION_TYPE"] == "Higher education")
        - 0.3 * _is_sentinel(cols)
    )
    income = _income(rng, 147_150 * np.exp(log_income_effect))
    goods_round = np.where(rng.random(n) < 0.5, 45_000, 4_500)
    cash_goods = _round_to(450_000 * np.exp(0.5 * log_income_effect + 0.6 * rng.normal(size=n)), goods_round)
    # Credit equals the goods price, adds insurance, or is smaller after a down payment.
    markup_kind = rng.choice(3, size=n, p=[0.30, 0.63, 0.07])
    markup = np.choose(markup_kind, [np.ones(n), rng.uniform(1.05, 1.3, n), rng.uniform(0.85, 1.0, n)])
    card_limit = _round_to(270_000 * np.exp(0.5 * log_income_effect + 0.45 * rng.normal(size=n)), 22_500)
    minimum_goods = 0.9 * schema.column("AMT_CREDIT").observed_min
    goods = np.maximum(np.where(revolving, card_limit, cash_goods), minimum_goods)
    credit = _fit("AMT_CREDIT", np.where(revolving, goods, _round_to(goods * markup, 0.5)))
    monthly_rate = rng.uniform(0.008, 0.025, n)
    term_months = rng.choice([12, 18, 24, 30, 36, 48, 60], size=n, p=[0.12, 0.12, 0.2, 0.12, 0.2, 0.12, 0.12])
    cash_annuity = credit * monthly_rate / (1 - (1 + monthly_rate) ** -term_months)
    annuity = np.where(revolving, 0.05 * credit, _round_to(cash_annuity, 0.5))
    return {
        "NAME_CONTRACT_TYPE": contract,
        "AMT_INCOME_TOTAL": income,
        "AMT_CREDIT": credit,
        "AMT_ANNUITY": _fit("AMT_ANNUITY", annuity),
        "AMT_GOODS_PRICE": _fit("AMT_GOODS_PRICE", goods),
    }


def _income(rng: np.random.Generator, income: np.ndarray) -> np.ndarray:
    """Incomes in steps of 4,500; one row per real-file size takes the real file's extreme outlier."""
    income = _fit("AMT_INCOME_TOTAL", _round_to(income, 4_500))
    outliers = rng.choice(len(income), size=round(len(income) / schema.REAL_ROW_COUNT), replace=False)
    income[outliers] = schema.column("AMT_INCOME_TOTAL").observed_max
    return income


def _scores(rng: np.random.Generator, cols: Columns, n: int) -> Columns:
    """EXT_SOURCE_1/2/3: correlated through one creditworthiness factor; the first tracks age closely."""
    age = (_age_years(cols) - 43.9) / 11.9
    creditworthiness = rng.normal(size=n)
    scores = {}
    for name, (alpha, beta) in _SCORE_SHAPES.items():
        age_loading, worth_loading = _SCORE_LOADINGS[name]
        own = np.sqrt(1 - age_loading**2 - worth_loading**2)
        latent = age_loading * age + worth_loading * creditworthiness + own * rng.normal(size=n)
        scaled = stats.beta.ppf(special.ndtr(latent), alpha, beta)
        scores[name] = _fit(name, scaled * schema.column(name).observed_max)
    return scores


def _building(rng: np.random.Generator, cols: Columns, n: int) -> Columns:
    """Statistics of the client's building: *_AVG per feature, *_MODE and *_MEDI close to it."""
    size = rng.normal(size=n)
    values: Columns = {}
    for base, (median, spread, size_correlation) in _BUILDING_SHAPES.items():
        latent = size_correlation * size + np.sqrt(1 - size_correlation**2) * rng.normal(size=n)
        average = special.expit(special.logit(median) + spread * latent)
        values[f"{base}_AVG"] = np.round(average, 4)
        values[f"{base}_MODE"] = _close_share(rng, average, _MODE_NOISE)
        values[f"{base}_MEDI"] = _close_share(rng, average, _MEDI_NOISE)
    values["TOTALAREA_MODE"] = _close_share(rng, 0.9 * values["APARTMENTS_AVG"], 0.2)
    text = ("FONDKAPREMONT_MODE", "HOUSETYPE_MODE", "WALLSMATERIAL_MODE", "EMERGENCYSTATE_MODE")
    return values | {name: _sample_levels(rng, name, n) for name in text}


def _close_share(rng: np.random.Generator, shares: np.ndarray, noise: float) -> np.ndarray:
    """Shares near the given ones: jittered on the logit scale, so they stay inside 0..1."""
    return np.round(special.expit(special.logit(shares) + noise * rng.normal(size=len(shares))), 4)


def _social_circle(rng: np.random.Generator, cols: Columns, n: int) -> Columns:
    """Observed acquaintances at 30 and 60 days past due, and how many of them defaulted."""
    observed_30 = _fit("OBS_30_CNT_SOCIAL_CIRCLE", _overdispersed_counts(rng, mean=1.42, dispersion=0.46, n=n))
    observed_60 = observed_30 - rng.binomial(observed_30, 0.01)
    defaulted_30 = _fit("DEF_30_CNT_SOCIAL_CIRCLE", rng.binomial(observed_30, 0.1))
    defaulted_60 = _fit("DEF_60_CNT_SOCIAL_CIRCLE", np.minimum(rng.binomial(defaulted_30, 0.7), observed_60))
    counts = {"OBS_30": observed_30, "DEF_30": defaulted_30, "OBS_60": observed_60, "DEF_60": defaulted_60}
    return {f"{name}_CNT_SOCIAL_CIRCLE": value.astype(float) for name, value in counts.items()}


def _bureau(rng: np.random.Generator, cols: Columns, n: int) -> Columns:
    """Credit bureau enquiries per period: rare in the last hour, about two a year."""
    counts = {}
    for period, mean in _BUREAU_MEANS.items():
        name = f"AMT_REQ_CREDIT_BUREAU_{period}"
        draws = _overdispersed_counts(rng, mean, 1.2, n) if period == "YEAR" else rng.poisson(mean, n)
        counts[name] = _fit(name, draws.astype(float))
    return counts


def _documents(rng: np.random.Generator, cols: Columns, n: int) -> Columns:
    """FLAG_DOCUMENT_*: at most one document per application."""
    names = list(_DOCUMENT_SHARES)
    shares = np.array([*_DOCUMENT_SHARES.values(), 1 - sum(_DOCUMENT_SHARES.values())])
    document = rng.choice(len(shares), size=n, p=shares)
    return {name: document == index for index, name in enumerate(names)}


def _application_time(rng: np.random.Generator, cols: Columns, n: int) -> Columns:
    """Weekday and hour of the application, and days since the client last changed phone."""
    phone_changed = np.where(rng.random(n) < 0.12, 0.0, -np.round(rng.gamma(1.2, 850, n)))
    return {
        "WEEKDAY_APPR_PROCESS_START": _sample_levels(rng, "WEEKDAY_APPR_PROCESS_START", n),
        "HOUR_APPR_PROCESS_START": _fit("HOUR_APPR_PROCESS_START", np.round(rng.normal(12.06, 3.27, n))),
        "DAYS_LAST_PHONE_CHANGE": _fit("DAYS_LAST_PHONE_CHANGE", phone_changed),
    }


_STEPS: tuple[Callable[[np.random.Generator, Columns, int], Columns], ...] = (
    _employment,
    _person,
    _household,
    _contacts,
    _addresses,
    _region,
    _amounts,
    _scores,
    _building,
    _social_circle,
    _bureau,
    _documents,
    _application_time,
)


# --- drift, missing values and the final frame ----------------------------------------------------------------


def _shifted_numbers(rng: np.random.Generator, name: str, values: np.ndarray, strength: float) -> np.ndarray:
    """Shift by strength x standard deviation within the validation bounds; whole numbers stay whole."""
    col = schema.column(name)
    movable = values != _SENTINEL if name == "DAYS_EMPLOYED" else np.ones(len(values), bool)
    moved = values[movable] + strength * np.std(values[movable])
    if np.all(values[movable] == np.round(values[movable])):
        moved = _stochastic_round(rng, moved)
    shifted = values.astype(float)
    shifted[movable] = np.clip(moved, col.low, col.high)
    return shifted.astype(values.dtype)


def _reweighted_levels(rng: np.random.Generator, name: str, values: np.ndarray, strength: float) -> np.ndarray:
    """Redraw the levels with shares flattened towards the rarer ones; quirk levels keep their rows."""
    col = schema.column(name)
    regular = [index for index, level in enumerate(col.levels) if level != _QUIRK_LEVELS.get(name)]
    shares = np.array(col.level_shares)[regular] ** np.exp(-strength)
    redrawn = np.isin(values, [col.levels[index] for index in regular])
    drifted = values.copy()
    drifted[redrawn] = _draw_levels(rng, tuple(col.levels[i] for i in regular), shares, int(redrawn.sum()))
    return drifted


def _missing_priorities(rng: np.random.Generator, cols: Columns, n: int) -> dict[str, np.ndarray]:
    """Per nullable column, a score whose highest rows go missing: shared within blocks of columns."""
    building_row = rng.normal(size=n)
    building_feature: dict[str, np.ndarray] = {}
    shared = {"bureau": rng.random(n), "social": rng.random(n)}
    # Some columns are missing for a reason first: no car, no employer, a revolving loan without goods.
    structural = {
        "OWN_CAR_AGE": cols["FLAG_OWN_CAR"] == "N",
        "OCCUPATION_TYPE": _is_sentinel(cols),
        "AMT_GOODS_PRICE": cols["NAME_CONTRACT_TYPE"] == _REVOLVING,
    }
    priorities = {}
    for col in schema.columns():
        if not col.nullable:
            continue
        building = _BUILDING_COLUMN.fullmatch(col.name)
        if col.name.startswith("AMT_REQ_CREDIT_BUREAU_"):
            priorities[col.name] = shared["bureau"]
        elif col.name.endswith("_CNT_SOCIAL_CIRCLE"):
            priorities[col.name] = shared["social"]
        elif building:
            if building["base"] not in building_feature:
                own = np.sqrt(1 - _BUILDING_MISSING_CORRELATION**2) * rng.normal(size=n)
                building_feature[building["base"]] = _BUILDING_MISSING_CORRELATION * building_row + own
            priorities[col.name] = building_feature[building["base"]]
        else:
            priorities[col.name] = structural.get(col.name, 0) + rng.random(n)
    return priorities


def _with_missing_values(rng: np.random.Generator, cols: Columns) -> Columns:
    """Blank exactly round(missing rate x n) values per column, chosen by missingness priority."""
    n = len(cols["DAYS_BIRTH"])
    masked = dict(cols)
    for name, priority in _missing_priorities(rng, cols, n).items():
        missing = np.argsort(-priority, kind="stable")[: round(schema.column(name).missing_rate * n)]
        values = cols[name].astype(object if schema.column(name).is_text else float)
        values[missing] = None if schema.column(name).is_text else np.nan
        masked[name] = values
    return masked


def _contract_frame(cols: Columns) -> pd.DataFrame:
    """The columns in contract order with contract dtypes (None and NaN mark missing values)."""
    return pd.DataFrame({name: _as_contract_dtype(name, cols[name]) for name in schema.column_names()})
