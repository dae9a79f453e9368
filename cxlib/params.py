"""Params files for ``cx run``: which data, which journey spec, which notebooks, how to run.

YAML, validated like the journey spec (:mod:`cxlib.config`): unknown keys are errors that name
the file, the key and the nearest known one. Only a run knows the notebooks folder; the journey
spec does not.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, ValidationError, field_validator

from cxlib.config import StrictModel, TimeZone, as_utc, params_error, read_yaml
from cxlib.errors import ParamsError
from cxlib.paths import resolve


class DemoSettings(StrictModel):
    """Generate the demo world into ``data_dir`` when it is missing."""

    customers: int = Field(20_000, ge=50)
    seed: int = 42


class RunParams(StrictModel):
    """A params file for ``cx run``: which data, which spec, which notebooks, how to run them."""

    title: str = "cxlab report"
    data_dir: Path
    journey_spec: Path = Path("params/journeys/broadband.yaml")
    as_of: Annotated[datetime, BeforeValidator(as_utc)]
    min_group_size: int = Field(5, ge=1)
    max_bad_share: float = Field(0.02, ge=0, le=1)
    notebooks: tuple[str, ...] = (
        "00_data_quality",
        "10_journey_times",
        "20_time_segments",
        "30_satisfaction_vs_time",
    )
    jobs: int | None = Field(None, ge=1)  # parallel notebook executions; default: cores
    timeout_seconds: int = Field(900, ge=1)  # per notebook, start to finish
    matrix: dict[str, tuple[str | int | float, ...]] = {}  # one set of reports per value
    channel: str = Field("latest", pattern=r"^[A-Za-z0-9_.-]+$")  # reports/<channel> pointer
    keep_runs: int = Field(30, ge=1)  # runs of this params file kept; older ones deleted
    timezone: TimeZone | None = None  # zone of timestamps without a UTC offset
    survey_duration: str = ""  # survey answers' own measured wait (a column), for surveys alone
    answer_days: float = Field(3.0, ge=0)  # how long after a journey ends its survey may come
    engine: Literal["duckdb", "pyspark"] = "duckdb"  # where journeys are computed
    spark_conf: dict[str, str] = {}  # e.g. {spark.master: "spark://host:7077"}
    demo: DemoSettings | None = None

    @field_validator("matrix")
    @classmethod
    def _matrix_values(cls, matrix: dict[str, tuple[object, ...]]) -> dict:
        for key, values in matrix.items():
            if not values:
                raise ValueError(f"matrix key '{key}' lists no values")
            if len(set(values)) != len(values):
                raise ValueError(f"matrix key '{key}' repeats a value")
        return matrix

    def notebook_parameters(self, output_dir: Path, build_dir: Path | None = None
                            ) -> dict[str, object]:
        """Return what every report notebook receives (its ``parameters`` cell's signature).

        Matrix keys override these per execution (``region`` is the usual one); ``build_dir``
        is the run's one build of the data, which every notebook opens.
        """
        return {
            "build_dir": str(build_dir) if build_dir else "",
            "data_dir": str(resolve(self.data_dir)),
            "spec_path": str(resolve(self.journey_spec)),
            "as_of": self.as_of.isoformat().replace("+00:00", "Z"),
            "min_group_size": self.min_group_size,
            "max_bad_share": self.max_bad_share,
            "timezone": self.timezone or "",
            "survey_duration": self.survey_duration,
            "answer_days": self.answer_days,
            "region": "",
            "engine": self.engine,
            "spark_conf": dict(self.spark_conf),
            "output_dir": str(output_dir),
        }


def _check_files(params: RunParams, path: Path) -> None:
    for i, name in enumerate(params.notebooks):
        if not (resolve("notebooks") / f"{name}.ipynb").is_file():
            raise ParamsError(str(path), f"notebooks.{i}", f"no notebook notebooks/{name}.ipynb")
    if not resolve(params.journey_spec).is_file():
        raise ParamsError(str(path), "journey_spec", f"file {params.journey_spec} not found")
    if not resolve(params.data_dir).is_dir() and params.demo is None:
        raise ParamsError(str(path), "data_dir", f"folder {params.data_dir} not found (add a "
                          "'demo' section to generate demo data there)")


def load_params(path: str | Path) -> RunParams:
    """Read and validate a ``cx run`` params file; every unknown or wrong key is reported.

    Also checks that the notebooks, the journey spec and the data folder exist.
    """
    p = resolve(path)
    try:
        params = RunParams.model_validate(read_yaml(p))
    except ValidationError as exc:
        raise params_error(p, RunParams, exc) from None
    _check_files(params, p)
    return params
