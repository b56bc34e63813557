"""The data contract: the 122 columns of Home Credit's `application_train.csv`, stated once.

Everything that needs to know the schema (the CSV parser, the Great Expectations suites, the synthetic
generator and the features) derives it from here. The facts come from the real file (307,511 rows): file
order, pandas dtype, share of missing values, the observed range ("-" where missing values hid it) and
every level of the 16 text columns with its count. Validation bounds are wider, domain-plausible ranges.
"""

import re
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

Dtype = Literal["int64", "float64", "object"]

ID_COLUMN = "SK_ID_CURR"
TARGET_COLUMN = "TARGET"


def fully_labelled(labels: "pd.Series") -> bool:
    """Whether a month's TARGET values are all known (and there is at least one row)."""
    return bool(len(labels)) and bool(labels.notna().all())


REAL_ROW_COUNT = 307_511
REAL_POSITIVE_RATE = 24_825 / 307_511


class Role(StrEnum):
    """What a column is for."""

    IDENTIFIER = "identifier"
    LABEL = "label"
    INPUT = "input"  # enters the model; has a reason statement
    PROTECTED = "protected"  # a prohibited basis or its carrier: fairness monitoring only (see policy.py)
    EXCLUDED = "excluded"  # not a creditworthiness factor: kept in the data, never in the model


# Quirks of the real file that a validator must accept and features must handle; they become Column fields.
SENTINELS: dict[str, int] = {"DAYS_EMPLOYED": 365_243}  # "employed for 1,000 years": pensioners and the unemployed
SENTINEL_ORGANIZATION_TYPE = "XNA"  # the rows that carry the DAYS_EMPLOYED sentinel
PLACEHOLDERS: dict[str, str] = {"CODE_GENDER": "XNA", "NAME_FAMILY_STATUS": "Unknown"}  # levels meaning "unknown"
# Every column not named here is a model input. Protected columns must agree with the policy table
# (protected_attributes.tsv), restricted ones with restricted_inputs.tsv; definitions refuse to load when they
# do not (policy.contract_problems).
ROLES: dict[str, Role] = {
    ID_COLUMN: Role.IDENTIFIER,
    TARGET_COLUMN: Role.LABEL,
    "CODE_GENDER": Role.PROTECTED,  # sex
    "NAME_FAMILY_STATUS": Role.PROTECTED,  # marital status
    "CNT_FAM_MEMBERS": Role.PROTECTED,  # counts a spouse or partner: carries marital status
    "NAME_TYPE_SUITE": Role.PROTECTED,  # "Spouse, partner" accompanied the applicant: carries marital status
    "DAYS_BIRTH": Role.PROTECTED,  # age
    "WEEKDAY_APPR_PROCESS_START": Role.EXCLUDED,  # when the form was filled in says nothing of creditworthiness
    "HOUR_APPR_PROCESS_START": Role.EXCLUDED,
    "NAME_INCOME_TYPE": Role.EXCLUDED,  # source of income: restricted_inputs.tsv (Reg B 1002.6(b)(5))
    "NAME_EDUCATION_TYPE": Role.EXCLUDED,  # level of education: restricted_inputs.tsv (a proxy for race)
}


@dataclass(frozen=True)
class Reason:
    """How a model feature is named on an adverse-action notice and in which direction it is expected to act."""

    factor: str  # the factor, neutral ("Length of employment")
    direction: int = 0  # +1: higher values raise risk, -1: lower values do, 0: no expected direction
    adverse: str | None = None  # the statement when the factor raised risk ("Short employment history")
    family: str = ""  # the factor several features express together ("External credit scores"); "" for `factor`

    @property
    def family_name(self) -> str:
        """The factor family: a notice gives one statement per family, for the sum of its features' contributions."""
        return self.family or self.factor

    def statement(self, missing: bool = False) -> str:
        """What the notice says when this feature raised the applicant's risk."""
        if missing:
            return f"{self.factor}: not provided"
        return self.adverse or self.factor


EXTERNAL_SCORES = "External credit scores"  # the family of the three bureau scores and everything derived from them
SOCIAL_CIRCLE = "Credit history of the applicant's social circle"

# Reason statements of the model inputs (first matching pattern wins; \1 stands for the pattern's group): the
# factor in words an applicant understands and, where credit practice expects one, the direction in which the
# factor raises risk (+1: a higher value, -1: a lower value; LightGBM enforces it as a monotone constraint) with
# the statement an adverse-action notice gives when the factor raised the applicant's risk. Features whose
# factor text is the same form one family (the building's _AVG/_MODE/_MEDI, the FLAG_DOCUMENT_* ...); `family`
# joins features whose factors differ but say one thing (each external score and the scores' aggregates).
_REASONS: list[tuple[str, Reason]] = [
    (r"EXT_SOURCE_(\d)", Reason(r"External credit score \1", -1, r"External credit score \1 too low", EXTERNAL_SCORES)),
    (r"AMT_INCOME_TOTAL", Reason("Income", -1, "Income too low")),
    (r"AMT_CREDIT", Reason("Amount of credit requested")),
    (r"AMT_ANNUITY", Reason("Size of the repayment instalment")),
    (r"AMT_GOODS_PRICE", Reason("Price of the goods financed")),
    (r"NAME_CONTRACT_TYPE", Reason("Type of loan requested")),
    (r"FLAG_OWN_CAR", Reason("Car ownership")),
    (r"FLAG_OWN_REALTY", Reason("Property ownership")),
    (r"CNT_CHILDREN", Reason("Number of dependent children")),
    (r"NAME_HOUSING_TYPE", Reason("Housing situation")),
    (r"REGION_POPULATION_RELATIVE", Reason("Population density of the region of residence")),
    (r"DAYS_EMPLOYED", Reason("Length of employment", 1, "Short employment history")),
    (r"DAYS_REGISTRATION", Reason("Time since the registration changed", 1, "Recent change of registration")),
    (r"DAYS_ID_PUBLISH", Reason("Time since the identity document changed", 1, "Recent change of identity document")),
    (r"DAYS_LAST_PHONE_CHANGE", Reason("Time since the phone number changed", 1, "Recent change of phone number")),
    (r"OWN_CAR_AGE", Reason("Age of the applicant's car")),
    (r"FLAG_(MOBIL|EMP_PHONE|WORK_PHONE|CONT_MOBILE|PHONE|EMAIL)", Reason("Contact details provided")),
    (r"OCCUPATION_TYPE", Reason("Type of occupation")),
    (r"ORGANIZATION_TYPE", Reason("Type of employer")),
    (
        r"REGION_RATING_CLIENT(_W_CITY)?",
        Reason("Risk rating of the region of residence", 1, "Region of residence rated high risk"),
    ),
    (r"(REG|LIVE)_(REGION|CITY)_NOT_(LIVE|WORK)_(REGION|CITY)", Reason("Home, registered and work addresses differ")),
    (r".*_(AVG|MODE|MEDI)", Reason("Characteristics of the residence building")),
    (
        r"OBS_\d+_CNT_SOCIAL_CIRCLE",
        Reason("Credit history observed in the applicant's social circle", family=SOCIAL_CIRCLE),
    ),
    (
        r"DEF_\d+_CNT_SOCIAL_CIRCLE",
        Reason(
            "Defaults in the applicant's social circle", 1, "Defaults in the applicant's social circle", SOCIAL_CIRCLE
        ),
    ),
    (r"FLAG_DOCUMENT_\d+", Reason("Documents provided with the application")),
    (
        r"AMT_REQ_CREDIT_BUREAU_.*",
        Reason("Number of recent credit bureau inquiries", 1, "Many recent credit bureau inquiries"),
    ),
]

_TABLE = """
column                         dtype    missing   obs_min   obs_max
SK_ID_CURR                     int64   0.000000    100002    456255
TARGET                         int64   0.000000         0         1
NAME_CONTRACT_TYPE             object  0.000000         -         -
CODE_GENDER                    object  0.000000         -         -
FLAG_OWN_CAR                   object  0.000000         -         -
FLAG_OWN_REALTY                object  0.000000         -         -
CNT_CHILDREN                   int64   0.000000         0        19
AMT_INCOME_TOTAL               float64 0.000000     25650  1.17e+08
AMT_CREDIT                     float64 0.000000     45000  4.05e+06
AMT_ANNUITY                    float64 0.000039         -    258026
AMT_GOODS_PRICE                float64 0.000904         -  4.05e+06
NAME_TYPE_SUITE                object  0.004201         -         -
NAME_INCOME_TYPE               object  0.000000         -         -
NAME_EDUCATION_TYPE            object  0.000000         -         -
NAME_FAMILY_STATUS             object  0.000000         -         -
NAME_HOUSING_TYPE              object  0.000000         -         -
REGION_POPULATION_RELATIVE     float64 0.000000   0.00029  0.072508
DAYS_BIRTH                     int64   0.000000    -25229     -7489
DAYS_EMPLOYED                  int64   0.000000    -17912    365243
DAYS_REGISTRATION              float64 0.000000    -24672         0
DAYS_ID_PUBLISH                int64   0.000000     -7197         0
OWN_CAR_AGE                    float64 0.659908         -        91
FLAG_MOBIL                     int64   0.000000         0         1
FLAG_EMP_PHONE                 int64   0.000000         0         1
FLAG_WORK_PHONE                int64   0.000000         0         1
FLAG_CONT_MOBILE               int64   0.000000         0         1
FLAG_PHONE                     int64   0.000000         0         1
FLAG_EMAIL                     int64   0.000000         0         1
OCCUPATION_TYPE                object  0.313455         -         -
CNT_FAM_MEMBERS                float64 0.000007         -        20
REGION_RATING_CLIENT           int64   0.000000         1         3
REGION_RATING_CLIENT_W_CITY    int64   0.000000         1         3
WEEKDAY_APPR_PROCESS_START     object  0.000000         -         -
HOUR_APPR_PROCESS_START        int64   0.000000         0        23
REG_REGION_NOT_LIVE_REGION     int64   0.000000         0         1
REG_REGION_NOT_WORK_REGION     int64   0.000000         0         1
LIVE_REGION_NOT_WORK_REGION    int64   0.000000         0         1
REG_CITY_NOT_LIVE_CITY         int64   0.000000         0         1
REG_CITY_NOT_WORK_CITY         int64   0.000000         0         1
LIVE_CITY_NOT_WORK_CITY        int64   0.000000         0         1
ORGANIZATION_TYPE              object  0.000000         -         -
EXT_SOURCE_1                   float64 0.563811         -  0.962693
EXT_SOURCE_2                   float64 0.002146         -     0.855
EXT_SOURCE_3                   float64 0.198253         -   0.89601
APARTMENTS_AVG                 float64 0.507497         -         1
BASEMENTAREA_AVG               float64 0.585160         -         1
YEARS_BEGINEXPLUATATION_AVG    float64 0.487810         -         1
YEARS_BUILD_AVG                float64 0.664978         -         1
COMMONAREA_AVG                 float64 0.698723         -         1
ELEVATORS_AVG                  float64 0.532960         -         1
ENTRANCES_AVG                  float64 0.503488         -         1
FLOORSMAX_AVG                  float64 0.497608         -         1
FLOORSMIN_AVG                  float64 0.678486         -         1
LANDAREA_AVG                   float64 0.593767         -         1
LIVINGAPARTMENTS_AVG           float64 0.683550         -         1
LIVINGAREA_AVG                 float64 0.501933         -         1
NONLIVINGAPARTMENTS_AVG        float64 0.694330         -         1
NONLIVINGAREA_AVG              float64 0.551792         -         1
APARTMENTS_MODE                float64 0.507497         -         1
BASEMENTAREA_MODE              float64 0.585160         -         1
YEARS_BEGINEXPLUATATION_MODE   float64 0.487810         -         1
YEARS_BUILD_MODE               float64 0.664978         -         1
COMMONAREA_MODE                float64 0.698723         -         1
ELEVATORS_MODE                 float64 0.532960         -         1
ENTRANCES_MODE                 float64 0.503488         -         1
FLOORSMAX_MODE                 float64 0.497608         -         1
FLOORSMIN_MODE                 float64 0.678486         -         1
LANDAREA_MODE                  float64 0.593767         -         1
LIVINGAPARTMENTS_MODE          float64 0.683550         -         1
LIVINGAREA_MODE                float64 0.501933         -         1
NONLIVINGAPARTMENTS_MODE       float64 0.694330         -         1
NONLIVINGAREA_MODE             float64 0.551792         -         1
APARTMENTS_MEDI                float64 0.507497         -         1
BASEMENTAREA_MEDI              float64 0.585160         -         1
YEARS_BEGINEXPLUATATION_MEDI   float64 0.487810         -         1
YEARS_BUILD_MEDI               float64 0.664978         -         1
COMMONAREA_MEDI                float64 0.698723         -         1
ELEVATORS_MEDI                 float64 0.532960         -         1
ENTRANCES_MEDI                 float64 0.503488         -         1
FLOORSMAX_MEDI                 float64 0.497608         -         1
FLOORSMIN_MEDI                 float64 0.678486         -         1
LANDAREA_MEDI                  float64 0.593767         -         1
LIVINGAPARTMENTS_MEDI          float64 0.683550         -         1
LIVINGAREA_MEDI                float64 0.501933         -         1
NONLIVINGAPARTMENTS_MEDI       float64 0.694330         -         1
NONLIVINGAREA_MEDI             float64 0.551792         -         1
FONDKAPREMONT_MODE             object  0.683862         -         -
HOUSETYPE_MODE                 object  0.501761         -         -
TOTALAREA_MODE                 float64 0.482685         -         1
WALLSMATERIAL_MODE             object  0.508408         -         -
EMERGENCYSTATE_MODE            object  0.473983         -         -
OBS_30_CNT_SOCIAL_CIRCLE       float64 0.003320         -       348
DEF_30_CNT_SOCIAL_CIRCLE       float64 0.003320         -        34
OBS_60_CNT_SOCIAL_CIRCLE       float64 0.003320         -       344
DEF_60_CNT_SOCIAL_CIRCLE       float64 0.003320         -        24
DAYS_LAST_PHONE_CHANGE         float64 0.000003     -4292         0
FLAG_DOCUMENT_2                int64   0.000000         0         1
FLAG_DOCUMENT_3                int64   0.000000         0         1
FLAG_DOCUMENT_4                int64   0.000000         0         1
FLAG_DOCUMENT_5                int64   0.000000         0         1
FLAG_DOCUMENT_6                int64   0.000000         0         1
FLAG_DOCUMENT_7                int64   0.000000         0         1
FLAG_DOCUMENT_8                int64   0.000000         0         1
FLAG_DOCUMENT_9                int64   0.000000         0         1
FLAG_DOCUMENT_10               int64   0.000000         0         1
FLAG_DOCUMENT_11               int64   0.000000         0         1
FLAG_DOCUMENT_12               int64   0.000000         0         1
FLAG_DOCUMENT_13               int64   0.000000         0         1
FLAG_DOCUMENT_14               int64   0.000000         0         1
FLAG_DOCUMENT_15               int64   0.000000         0         1
FLAG_DOCUMENT_16               int64   0.000000         0         1
FLAG_DOCUMENT_17               int64   0.000000         0         1
FLAG_DOCUMENT_18               int64   0.000000         0         1
FLAG_DOCUMENT_19               int64   0.000000         0         1
FLAG_DOCUMENT_20               int64   0.000000         0         1
FLAG_DOCUMENT_21               int64   0.000000         0         1
AMT_REQ_CREDIT_BUREAU_HOUR     float64 0.135016         -         4
AMT_REQ_CREDIT_BUREAU_DAY      float64 0.135016         -         9
AMT_REQ_CREDIT_BUREAU_WEEK     float64 0.135016         -         8
AMT_REQ_CREDIT_BUREAU_MON      float64 0.135016         -        27
AMT_REQ_CREDIT_BUREAU_QRT      float64 0.135016         -       261
AMT_REQ_CREDIT_BUREAU_YEAR     float64 0.135016         -        25
"""

LEVEL_COUNTS: dict[str, dict[str, int]] = {
    "NAME_CONTRACT_TYPE": {"Cash loans": 278232, "Revolving loans": 29279},
    "CODE_GENDER": {"F": 202448, "M": 105059, "XNA": 4},
    "FLAG_OWN_CAR": {"N": 202924, "Y": 104587},
    "FLAG_OWN_REALTY": {"Y": 213312, "N": 94199},
    "NAME_TYPE_SUITE": {
        "Unaccompanied": 248526,
        "Family": 40149,
        "Spouse, partner": 11370,
        "Children": 3267,
        "Other_B": 1770,
        "Other_A": 866,
        "Group of people": 271,
    },
    "NAME_INCOME_TYPE": {
        "Working": 158774,
        "Commercial associate": 71617,
        "Pensioner": 55362,
        "State servant": 21703,
        "Unemployed": 22,
        "Student": 18,
        "Businessman": 10,
        "Maternity leave": 5,
    },
    "NAME_EDUCATION_TYPE": {
        "Secondary / secondary special": 218391,
        "Higher education": 74863,
        "Incomplete higher": 10277,
        "Lower secondary": 3816,
        "Academic degree": 164,
    },
    "NAME_FAMILY_STATUS": {
        "Married": 196432,
        "Single / not married": 45444,
        "Civil marriage": 29775,
        "Separated": 19770,
        "Widow": 16088,
        "Unknown": 2,
    },
    "NAME_HOUSING_TYPE": {
        "House / apartment": 272868,
        "With parents": 14840,
        "Municipal apartment": 11183,
        "Rented apartment": 4881,
        "Office apartment": 2617,
        "Co-op apartment": 1122,
    },
    "OCCUPATION_TYPE": {
        "Laborers": 55186,
        "Sales staff": 32102,
        "Core staff": 27570,
        "Managers": 21371,
        "Drivers": 18603,
        "High skill tech staff": 11380,
        "Accountants": 9813,
        "Medicine staff": 8537,
        "Security staff": 6721,
        "Cooking staff": 5946,
        "Cleaning staff": 4653,
        "Private service staff": 2652,
        "Low-skill Laborers": 2093,
        "Waiters/barmen staff": 1348,
        "Secretaries": 1305,
        "Realty agents": 751,
        "HR staff": 563,
        "IT staff": 526,
    },
    "WEEKDAY_APPR_PROCESS_START": {
        "TUESDAY": 53901,
        "WEDNESDAY": 51934,
        "MONDAY": 50714,
        "THURSDAY": 50591,
        "FRIDAY": 50338,
        "SATURDAY": 33852,
        "SUNDAY": 16181,
    },
    "ORGANIZATION_TYPE": {
        "Business Entity Type 3": 67992,
        "XNA": 55374,
        "Self-employed": 38412,
        "Other": 16683,
        "Medicine": 11193,
        "Business Entity Type 2": 10553,
        "Government": 10404,
        "School": 8893,
        "Trade: type 7": 7831,
        "Kindergarten": 6880,
        "Construction": 6721,
        "Business Entity Type 1": 5984,
        "Transport: type 4": 5398,
        "Trade: type 3": 3492,
        "Industry: type 9": 3368,
        "Industry: type 3": 3278,
        "Security": 3247,
        "Housing": 2958,
        "Industry: type 11": 2704,
        "Military": 2634,
        "Bank": 2507,
        "Agriculture": 2454,
        "Police": 2341,
        "Transport: type 2": 2204,
        "Postal": 2157,
        "Security Ministries": 1974,
        "Trade: type 2": 1900,
        "Restaurant": 1811,
        "Services": 1575,
        "University": 1327,
        "Industry: type 7": 1307,
        "Transport: type 3": 1187,
        "Industry: type 1": 1039,
        "Hotel": 966,
        "Electricity": 950,
        "Industry: type 4": 877,
        "Trade: type 6": 631,
        "Industry: type 5": 599,
        "Insurance": 597,
        "Telecom": 577,
        "Emergency": 560,
        "Industry: type 2": 458,
        "Advertising": 429,
        "Realtor": 396,
        "Culture": 379,
        "Industry: type 12": 369,
        "Trade: type 1": 348,
        "Mobile": 317,
        "Legal Services": 305,
        "Cleaning": 260,
        "Transport: type 1": 201,
        "Industry: type 6": 112,
        "Industry: type 10": 109,
        "Religion": 85,
        "Industry: type 13": 67,
        "Trade: type 4": 64,
        "Trade: type 5": 49,
        "Industry: type 8": 24,
    },
    "FONDKAPREMONT_MODE": {
        "reg oper account": 73830,
        "reg oper spec account": 12080,
        "not specified": 5687,
        "org spec account": 5619,
    },
    "HOUSETYPE_MODE": {"block of flats": 150503, "specific housing": 1499, "terraced house": 1212},
    "WALLSMATERIAL_MODE": {
        "Panel": 66040,
        "Stone, brick": 64815,
        "Block": 9253,
        "Wooden": 5362,
        "Mixed": 2296,
        "Monolithic": 1779,
        "Others": 1625,
    },
    "EMERGENCYSTATE_MODE": {"No": 159428, "Yes": 2328},
}

# Domain-plausible bounds (inclusive) for validation: first matching pattern wins. They contain every real
# value; what falls outside is a data error (a positive DAYS_BIRTH, a negative amount, a score above 1).
_BOUNDS: list[tuple[str, float, float]] = [
    (r"SK_ID_CURR", 1, 2**31 - 1),
    (r"TARGET", 0, 1),
    (r"DAYS_BIRTH", -43_830, -5_475),  # 15 to 120 years old
    (r"DAYS_EMPLOYED", -36_525, 0),  # plus the sentinel, see SENTINELS
    (r"DAYS_.*", -36_525, 0),
    (r"AMT_REQ_CREDIT_BUREAU_.*", 0, 1_000),
    (r"AMT_.*", 0, 1e10),
    (r"CNT_CHILDREN", 0, 30),
    (r"CNT_FAM_MEMBERS", 1, 40),
    (r".*_CNT_SOCIAL_CIRCLE", 0, 10_000),
    (r"OWN_CAR_AGE", 0, 100),
    (r"REGION_RATING_CLIENT.*", 1, 3),
    (r"HOUR_APPR_PROCESS_START", 0, 23),
    (r"REGION_POPULATION_RELATIVE|EXT_SOURCE_\d|.*_(AVG|MODE|MEDI)", 0, 1),
    (r"FLAG_.*|(REG|LIVE)_.*", 0, 1),
]


@dataclass(frozen=True)
class Column:
    """One column of the contract: its facts, its role and its quirks."""

    name: str
    dtype: Dtype
    role: Role
    missing_rate: float
    observed_min: float | None
    observed_max: float | None
    levels: tuple[str, ...] = ()
    level_shares: tuple[float, ...] = ()
    low: float | None = None
    high: float | None = None
    sentinel: int | None = None  # an in-range code that means "not applicable": a flag plus a missing value
    placeholder: str | None = None  # a level that means "unknown": missing once validated
    reason: Reason | None = None  # model inputs: the statement an adverse-action notice gives

    @property
    def nullable(self) -> bool:
        return self.missing_rate > 0

    @property
    def is_text(self) -> bool:
        return self.dtype == "object"

    @property
    def is_binary_flag(self) -> bool:
        return self.dtype == "int64" and (self.low, self.high) == (0, 1)


def reason_for(name: str) -> Reason | None:
    """The reason statement of a contract column, or None when no pattern covers it."""
    for pattern, template in _REASONS:
        if re.fullmatch(pattern, name):
            return replace(
                template,
                factor=re.sub(pattern, template.factor, name),
                adverse=re.sub(pattern, template.adverse, name) if template.adverse else None,
            )
    return None


def _bounds(name: str) -> tuple[float, float]:
    for pattern, low, high in _BOUNDS:
        if re.fullmatch(pattern, name):
            return low, high
    raise KeyError(f"no validation bounds for contract column {name}")


def _parse_number(text: str) -> float | None:
    return None if text == "-" else float(text)


def _column(line: str) -> Column:
    name, dtype, missing, obs_min, obs_max = line.split()
    counts = LEVEL_COUNTS.get(name, {})
    total = sum(counts.values())
    low, high = (None, None) if dtype == "object" else _bounds(name)
    return Column(
        name=name,
        dtype=dtype,  # type: ignore[arg-type]
        role=ROLES.get(name, Role.INPUT),
        missing_rate=float(missing),
        observed_min=_parse_number(obs_min),
        observed_max=_parse_number(obs_max),
        levels=tuple(counts),
        level_shares=tuple(count / total for count in counts.values()),
        low=low,
        high=high,
        sentinel=SENTINELS.get(name),
        placeholder=PLACEHOLDERS.get(name),
        reason=reason_for(name) if ROLES.get(name, Role.INPUT) is Role.INPUT else None,
    )


@cache
def columns() -> tuple[Column, ...]:
    """All 122 contract columns in file order."""
    lines = _TABLE.strip().splitlines()[1:]
    return tuple(_column(line) for line in lines)


@cache
def column(name: str) -> Column:
    """The contract column called `name`."""
    return {col.name: col for col in columns()}[name]


def column_names(with_target: bool = True) -> list[str]:
    """Column names in file order; unlabelled files (like application_test.csv) have no TARGET."""
    return [col.name for col in columns() if with_target or col.name != TARGET_COLUMN]


def protected_columns() -> list[Column]:
    """Columns kept for fairness monitoring only: never a model input."""
    return [col for col in columns() if col.role is Role.PROTECTED]


def input_columns() -> list[Column]:
    """Contract columns that enter the model (every column but the identifier and the label)."""
    return [col for col in columns() if col.role is Role.INPUT]


def text_columns() -> list[Column]:
    return [col for col in columns() if col.is_text]


def numeric_columns() -> list[Column]:
    return [col for col in columns() if not col.is_text]
