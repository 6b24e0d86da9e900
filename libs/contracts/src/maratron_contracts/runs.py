"""The runs bounded context: athlete profiles, runs and shoes.

Commands (service `runs`, subject `{ns}.cmd.runs.{name}`), events (streams `athlete:{id}`,
`run:{run_id}`, `shoes:{athlete_id}`), read models served from Redis, and the result shapes
carried in `Outcome.data`.

Units: command distances are in the command's `unit` (or the profile's unit); events and read
models hold integer metres and seconds. Dates are the athlete's LOCAL dates.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from maratron_contracts.messages import Command, Event, ReadModel
from maratron_contracts.registry import command, event, read_model
from maratron_contracts.units import (
    METRES_PER_UNIT,
    Unit,
    WeekStart,
    check_timezone,
    check_week_start,
    format_duration,
    format_pace,
    pace_seconds,
    parse_duration,
    parse_time_of_day,
)

SERVICE = "runs"
DEFAULT_MAX_SHOE_KM = 800.0
WEAR_ALERT_FRACTION = 0.8
MAX_LIST_LIMIT = 100

Sex = Literal["female", "male", "other"]
WorkoutType = Literal["easy", "long", "tempo", "interval", "race", "recovery"]
Environment = Literal["road", "trail", "track", "treadmill"]
RunField = Literal[
    "start_time",
    "name",
    "notes",
    "elevation_gain_m",
    "avg_hr",
    "max_hr",
    "shoe_id",
    "workout_type",
    "perceived_effort",
    "environment",
]

TimeZone = Annotated[str, AfterValidator(check_timezone)]


def _week_start(value: object) -> object:
    return check_week_start(value) if isinstance(value, str) else value


def _start_time(value: object) -> object:
    return parse_time_of_day(value) if isinstance(value, str | dt.time) else value


WeekStartDay = Annotated[WeekStart, BeforeValidator(_week_start)]
Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*(\d+:)?\d{1,2}:\d{1,2}\s*$|^\s*\d+\s*$"},
                {"type": "integer", "minimum": 1},
            ],
            "description": "HH:MM:SS, MM:SS or seconds, e.g. '1:02:30', '45:10' or 2710.",
        }
    ),
]
StartTime = Annotated[
    dt.time,
    BeforeValidator(_start_time),
    WithJsonSchema({"type": "string", "description": "Local start time, 24-hour HH:MM[:SS]."}),
]
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

_NAME = Field(min_length=1, max_length=100, description="Display name.")
_EMAIL = Field(max_length=254, pattern=EMAIL_PATTERN, description="Contact e-mail address.")
TZ_DOC = "IANA time zone, e.g. Europe/Paris; defines 'today' and 'this week'."
UNIT_DOC = "Preferred distance unit: km or mi."
WEEK_START_DOC = "First day of the week for weekly summaries."
_BIRTH_YEAR = Field(default=None, ge=1900, le=2100, description="Year of birth.")
SEX_DOC = "female, male or other (used by training formulas)."
_SEX = Field(default=None, description=SEX_DOC)
_RESTING_HR = Field(default=None, ge=20, le=150, description="Resting heart rate, bpm.")
_MAX_HR = Field(default=None, ge=80, le=250, description="Maximum heart rate, bpm.")


def _check_hr_pair(resting: int | None, maximum: int | None, what: str) -> None:
    if resting is not None and maximum is not None and resting >= maximum:
        raise ValueError(f"{what} must be lower than max_hr ({resting} >= {maximum})")


# ===== commands: athlete profile ================================================================
@command
class RegisterAthlete(Command):
    """Create the caller's profile; its athlete id is the token's subject."""

    service: ClassVar[str] = SERVICE
    name: ClassVar[str] = "register_athlete"

    display_name: str = Field(
        alias="name", min_length=1, max_length=100, description="Display name."
    )
    email: str = _EMAIL
    timezone: TimeZone = Field(default="UTC", description=TZ_DOC)
    unit: Unit = Field(default="km", description=UNIT_DOC)
    week_start: WeekStartDay = Field(default="monday", description=WEEK_START_DOC)
    birth_year: int | None = _BIRTH_YEAR
    sex: Sex | None = _SEX
    resting_hr: int | None = _RESTING_HR
    max_hr: int | None = _MAX_HR

    model_config = ConfigDict(
        extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    @model_validator(mode="after")
    def _hr(self) -> RegisterAthlete:
        _check_hr_pair(self.resting_hr, self.max_hr, "resting_hr")
        return self


@command
class UpdateProfile(Command):
    """Change any profile field; fields left out keep their value."""

    service: ClassVar[str] = SERVICE
    name: ClassVar[str] = "update_profile"

    display_name: str | None = Field(
        default=None, alias="name", min_length=1, max_length=100, description="Display name."
    )
    email: str | None = Field(
        default=None, max_length=254, pattern=EMAIL_PATTERN, description="Contact e-mail address."
    )
    timezone: TimeZone | None = Field(default=None, description=TZ_DOC)
    unit: Unit | None = Field(default=None, description=UNIT_DOC)
    week_start: WeekStartDay | None = Field(default=None, description=WEEK_START_DOC)
    birth_year: int | None = Field(default=None, ge=1900, le=2100, description="Year of birth.")
    sex: Sex | None = Field(default=None, description=SEX_DOC)
    resting_hr: int | None = Field(
        default=None, ge=20, le=150, description="Resting heart rate, bpm."
    )
    max_hr: int | None = Field(default=None, ge=80, le=250, description="Maximum heart rate, bpm.")

    model_config = ConfigDict(
        extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    @model_validator(mode="after")
    def _something(self) -> UpdateProfile:
        if not self.changes():
            raise ValueError(
                "nothing to update: give at least one of name, email, timezone, unit, "
                "week_start, birth_year, sex, resting_hr, max_hr"
            )
        _check_hr_pair(self.resting_hr, self.max_hr, "resting_hr")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields given (None = unchanged), keyed by event field name (`name`)."""
        return {
            ("name" if k == "display_name" else k): getattr(self, k)
            for k in type(self).model_fields
            if getattr(self, k) is not None
        }


@command
class DeleteAthlete(Command):
    """Erase the athlete's personal data (crypto-shredding); counts and the log stay."""

    service: ClassVar[str] = SERVICE
    name: ClassVar[str] = "delete_athlete"

    confirm: bool = Field(description="Must be true: erasure cannot be undone.")

    @model_validator(mode="after")
    def _confirmed(self) -> DeleteAthlete:
        if self.confirm is not True:
            raise ValueError(
                "confirm must be true: deleting the athlete makes their name, e-mail and run "
                "notes unreadable for good"
            )
        return self


# ===== commands: runs ===========================================================================
class _RunFields(Command):
    """Optional run fields shared by log_run and update_run."""

    unit: Unit | None = Field(
        default=None, description="Unit of `distance`; default: the profile's unit."
    )
    start_time: StartTime | None = Field(default=None, description="Local start time, HH:MM[:SS].")
    run_name: str | None = Field(
        default=None, alias="name", min_length=1, max_length=100, description="A title for the run."
    )
    notes: str | None = Field(default=None, max_length=4000, description="Free-text notes.")
    elevation_gain_m: int | None = Field(
        default=None, ge=0, le=20000, description="Elevation gain, metres."
    )
    avg_hr: int | None = Field(default=None, ge=30, le=250, description="Average heart rate, bpm.")
    max_hr: int | None = Field(default=None, ge=30, le=250, description="Maximum heart rate, bpm.")
    shoe_id: str | None = Field(
        default=None, max_length=64, description="Shoe worn; default: the default shoe, if any."
    )
    workout_type: WorkoutType | None = Field(
        default=None, description="easy, long, tempo, interval, race or recovery."
    )
    perceived_effort: int | None = Field(
        default=None, ge=1, le=10, description="Perceived effort, 1-10."
    )
    environment: Environment | None = Field(
        default=None, description="road, trail, track or treadmill."
    )

    model_config = ConfigDict(
        extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    @model_validator(mode="after")
    def _hr(self) -> _RunFields:
        if self.avg_hr is not None and self.max_hr is not None and self.avg_hr > self.max_hr:
            raise ValueError(f"avg_hr ({self.avg_hr}) cannot exceed max_hr ({self.max_hr})")
        return self


@command
class LogRun(_RunFields):
    """Record a run. The date is the athlete's local date."""

    service: ClassVar[str] = SERVICE
    name: ClassVar[str] = "log_run"

    date: dt.date = Field(description="Local date of the run, ISO 8601 (YYYY-MM-DD).")
    distance: float = Field(gt=0, le=1000, description="Distance in `unit` (km or mi).")
    duration: Duration = Field(description="Moving time: HH:MM:SS, MM:SS or seconds.")


@command
class UpdateRun(_RunFields):
    """Change fields of a run; fields left out keep their value, `clear` empties optional ones."""

    service: ClassVar[str] = SERVICE
    name: ClassVar[str] = "update_run"

    run_id: str = Field(min_length=1, max_length=64, description="The run to change.")
    date: dt.date | None = Field(default=None, description="Local date, ISO 8601.")
    distance: float | None = Field(default=None, gt=0, le=1000, description="Distance in `unit`.")
    duration: Duration | None = Field(default=None, description="HH:MM:SS, MM:SS or seconds.")
    clear: list[RunField] = Field(default_factory=list, description="Optional fields to empty.")

    @model_validator(mode="after")
    def _something(self) -> UpdateRun:
        if not self.changes() and not self.clear:
            raise ValueError(
                "nothing to update: give at least one run field (date, distance, duration, "
                "start_time, name, notes, ...) or `clear`"
            )
        overlap = {f for f in self.clear if getattr(self, _attr(f)) is not None}
        if overlap:
            raise ValueError(f"fields {sorted(overlap)} are both set and cleared: choose one")
        return self

    def changes(self) -> dict[str, Any]:
        """Fields given (None = unchanged) by event field name (`name`), without unit/clear."""
        out: dict[str, Any] = {}
        for attr in set(type(self).model_fields) - {"run_id", "unit", "clear"}:
            value = getattr(self, attr)
            if value is not None:
                out["name" if attr == "run_name" else attr] = value
        return out


def _attr(field: str) -> str:
    return "run_name" if field == "name" else field


@command
class DeleteRun(Command):
    service: ClassVar[str] = SERVICE
    name: ClassVar[str] = "delete_run"

    run_id: str = Field(min_length=1, max_length=64, description="The run to delete.")


# ===== commands: shoes ==========================================================================
@command
class AddShoe(Command):
    service: ClassVar[str] = SERVICE
    name: ClassVar[str] = "add_shoe"

    shoe_name: str = Field(
        alias="name", min_length=1, max_length=100, description="A name for the shoe."
    )
    brand: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=100)
    max_distance: float | None = Field(
        default=None, gt=0, le=10000, description="Retirement distance in `unit`; default 800 km."
    )
    initial_distance: float = Field(
        default=0, ge=0, le=10000, description="Distance already run in the shoe, in `unit`."
    )
    unit: Unit | None = Field(
        default=None, description="Unit of the distances; default: the profile's."
    )
    default: bool = Field(default=False, description="Make it the default shoe for new runs.")

    model_config = ConfigDict(
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        protected_namespaces=(),
    )


@command
class RetireShoe(Command):
    service: ClassVar[str] = SERVICE
    name: ClassVar[str] = "retire_shoe"

    shoe_id: str = Field(min_length=1, max_length=64)


@command
class SetDefaultShoe(Command):
    service: ClassVar[str] = SERVICE
    name: ClassVar[str] = "set_default_shoe"

    shoe_id: str | None = Field(max_length=64, description="The new default shoe; null clears it.")


# ===== events ===================================================================================
class _AthleteEvent(Event):
    category: ClassVar[str] = "athlete"


@event
class AthleteRegistered(_AthleteEvent):
    event_type: ClassVar[str] = "AthleteRegistered"
    personal_fields: ClassVar[frozenset[str]] = frozenset({"name", "email"})

    athlete_id: str
    name: str
    email: str
    timezone: str
    unit: Unit
    week_start: WeekStart
    birth_year: int | None = None
    sex: Sex | None = None
    resting_hr: int | None = None
    max_hr: int | None = None
    registered_at: dt.datetime


@event
class ProfileUpdated(_AthleteEvent):
    """Only the fields that changed are set."""

    event_type: ClassVar[str] = "ProfileUpdated"
    personal_fields: ClassVar[frozenset[str]] = frozenset({"name", "email"})

    athlete_id: str
    name: str | None = None
    email: str | None = None
    timezone: str | None = None
    unit: Unit | None = None
    week_start: WeekStart | None = None
    birth_year: int | None = None
    sex: Sex | None = None
    resting_hr: int | None = None
    max_hr: int | None = None
    updated_at: dt.datetime


@event
class AthleteDeleted(_AthleteEvent):
    """Personal data was erased (the athlete's key deleted); events and counts stay."""

    event_type: ClassVar[str] = "AthleteDeleted"

    athlete_id: str
    deleted_at: dt.datetime


class _RunData(Event):
    category: ClassVar[str] = "run"
    personal_fields: ClassVar[frozenset[str]] = frozenset({"name", "notes"})

    run_id: str
    date: dt.date
    start_time: dt.time | None = None
    distance_m: int = Field(gt=0)
    duration_s: int = Field(gt=0)
    name: str | None = None
    notes: str | None = None
    elevation_gain_m: int | None = None
    avg_hr: int | None = None
    max_hr: int | None = None
    shoe_id: str | None = None
    workout_type: WorkoutType | None = None
    perceived_effort: int | None = None
    environment: Environment | None = None


@event
class RunLogged(_RunData):
    event_type: ClassVar[str] = "RunLogged"

    logged_at: dt.datetime


@event
class RunUpdated(_RunData):
    """The complete run after the change, plus the names of the fields that changed."""

    event_type: ClassVar[str] = "RunUpdated"

    changed: list[str]
    updated_at: dt.datetime


@event
class RunDeleted(Event):
    category: ClassVar[str] = "run"
    event_type: ClassVar[str] = "RunDeleted"

    run_id: str
    deleted_at: dt.datetime


class _ShoeEvent(Event):
    category: ClassVar[str] = "shoes"


@event
class ShoeAdded(_ShoeEvent):
    event_type: ClassVar[str] = "ShoeAdded"

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    shoe_id: str
    name: str
    brand: str | None = None
    model: str | None = None
    max_distance_m: int = Field(gt=0)
    initial_distance_m: int = Field(ge=0)
    added_at: dt.datetime


@event
class ShoeRetired(_ShoeEvent):
    event_type: ClassVar[str] = "ShoeRetired"

    shoe_id: str
    retired_at: dt.datetime


@event
class DefaultShoeSet(_ShoeEvent):
    """The default shoe for new runs changed (None: no default)."""

    event_type: ClassVar[str] = "DefaultShoeSet"

    shoe_id: str | None


# ===== read models ==============================================================================
@read_model
class Profile(ReadModel):
    read_model: ClassVar[str] = "runs.profile"

    athlete_id: str
    name: str
    email: str
    timezone: str
    unit: Unit
    week_start: WeekStart
    birth_year: int | None = None
    sex: Sex | None = None
    resting_hr: int | None = None
    max_hr: int | None = None
    registered_at: dt.datetime
    updated_at: dt.datetime


def _distances(metres: int) -> dict[str, float]:
    return {u: round(metres / f, 3) for u, f in METRES_PER_UNIT.items()}


@read_model
class Run(ReadModel):
    """A run with derived distance in km/mi, formatted duration and paces per km and per mile."""

    read_model: ClassVar[str] = "runs.run"

    run_id: str
    athlete_id: str
    date: dt.date = Field(description="Local date.")
    start_time: dt.time | None = None
    distance_m: int
    duration_s: int
    name: str | None = None
    notes: str | None = None
    elevation_gain_m: int | None = None
    avg_hr: int | None = None
    max_hr: int | None = None
    shoe_id: str | None = None
    workout_type: WorkoutType | None = None
    perceived_effort: int | None = None
    environment: Environment | None = None
    logged_at: dt.datetime
    updated_at: dt.datetime | None = None
    distance_km: float = 0.0
    distance_mi: float = 0.0
    duration: str = ""
    pace_s_per_km: float | None = None
    pace_s_per_mi: float | None = None
    pace_per_km: str | None = Field(default=None, description="M:SS per km.")
    pace_per_mi: str | None = Field(default=None, description="M:SS per mile.")

    @model_validator(mode="after")
    def _derive(self) -> Run:
        d = _distances(self.distance_m)
        km = pace_seconds(self.distance_m, self.duration_s, "km")
        mi = pace_seconds(self.distance_m, self.duration_s, "mi")
        object.__setattr__(self, "distance_km", d["km"])
        object.__setattr__(self, "distance_mi", d["mi"])
        object.__setattr__(self, "duration", format_duration(self.duration_s))
        object.__setattr__(self, "pace_s_per_km", None if km is None else round(km, 1))
        object.__setattr__(self, "pace_s_per_mi", None if mi is None else round(mi, 1))
        object.__setattr__(self, "pace_per_km", format_pace(km))
        object.__setattr__(self, "pace_per_mi", format_pace(mi))
        return self


@read_model
class RunPage(ReadModel):
    read_model: ClassVar[str] = "runs.page"

    runs: list[Run] = Field(description="Newest first (local date, then start time).")
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page.")


@read_model
class Summary(ReadModel):
    read_model: ClassVar[str] = "runs.summary"

    athlete_id: str
    period: str = Field(description="week, month, year or Nd.")
    start: dt.date = Field(description="First local date, inclusive.")
    end: dt.date = Field(description="Last local date, inclusive.")
    days: int
    count: int
    distance_m: int
    distance_km: float
    distance_mi: float
    moving_time_s: int
    moving_time: str
    average_pace_per_km: str | None
    average_pace_per_mi: str | None
    elevation_gain_m: int
    longest_run_id: str | None
    longest_run_m: int
    longest_run_km: float
    longest_run_mi: float
    runs_per_week: float = Field(description="count * 7 / days of the period.")


@read_model
class Shoe(ReadModel):
    read_model: ClassVar[str] = "runs.shoe"

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    shoe_id: str
    name: str
    brand: str | None = None
    model: str | None = None
    max_distance_m: int
    initial_distance_m: int = 0
    run_distance_m: int = Field(default=0, description="Exact sum of the shoe's runs, metres.")
    run_count: int = 0
    distance_m: int = Field(default=0, description="initial_distance_m + run_distance_m.")
    distance_km: float = 0.0
    distance_mi: float = 0.0
    max_distance_km: float = 0.0
    max_distance_mi: float = 0.0
    percent_of_max: float = 0.0
    wear_alert: bool = Field(default=False, description="True at 80% of max_distance or more.")
    is_default: bool = False
    retired: bool = False
    retired_at: dt.datetime | None = None
    added_at: dt.datetime

    @model_validator(mode="after")
    def _derive(self) -> Shoe:
        total = self.initial_distance_m + self.run_distance_m
        d, m = _distances(total), _distances(self.max_distance_m)
        percent = round(100.0 * total / self.max_distance_m, 1)
        object.__setattr__(self, "distance_m", total)
        object.__setattr__(self, "distance_km", d["km"])
        object.__setattr__(self, "distance_mi", d["mi"])
        object.__setattr__(self, "max_distance_km", m["km"])
        object.__setattr__(self, "max_distance_mi", m["mi"])
        object.__setattr__(self, "percent_of_max", percent)
        object.__setattr__(self, "wear_alert", total >= WEAR_ALERT_FRACTION * self.max_distance_m)
        return self


# ===== command results (Outcome.data) ===========================================================
# The command record (with this result) is kept in clear in Postgres for deduplication, so
# results carry ids and receipts only, never personal data: read the entity itself through the
# read models (maratron_runs.queries) after the reply - the service projects before replying.
@read_model
class ProfileResult(ReadModel):
    """Result of register_athlete / update_profile."""

    read_model: ClassVar[str] = "runs.result.profile"

    athlete_id: str


@read_model
class RunResult(ReadModel):
    """Result of log_run / update_run."""

    read_model: ClassVar[str] = "runs.result.run"

    run_id: str


@read_model
class ShoeResult(ReadModel):
    """Result of add_shoe / retire_shoe / set_default_shoe (None: the default was cleared)."""

    read_model: ClassVar[str] = "runs.result.shoe"

    shoe_id: str | None


@read_model
class DeleteReceipt(ReadModel):
    read_model: ClassVar[str] = "runs.result.deleted"

    run_id: str
    deleted: bool = True
    deleted_at: dt.datetime


@read_model
class ErasureReceipt(ReadModel):
    read_model: ClassVar[str] = "runs.result.erasure"

    athlete_id: str
    erased_at: dt.datetime
    personal_data: str = Field(
        default="unreadable", description="Name, e-mail, run names and notes."
    )
    runs_kept: int = Field(description="Runs whose non-personal data (counts, distances) stays.")
    shoes_kept: int
