"""Data folders that break the contract in every way it names, for the quarantine golden test.

Each builder writes one data folder (``events``, ``surveys``, ``customers``) into a directory;
:data:`FAULTS` maps a folder's name to its builder and the time zone it is loaded with.
``tests/data/contract/<name>.json`` holds what the contract made of it (see
``tests/data/README.md``); :func:`outcome` writes that record from a loaded dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

EVENTS_CSV = (
    "journey_id,customer_id,activity,ts,source,channel\n"
    "J1,C1,order_placed,2026-01-01T10:00:00Z,crm,web\n"
    "J1,,service_active,2026-01-03T10:00:00Z,netops,\n"          # customer missing
    "J1,C1,call_queued,not a date,telephony,phone\n"              # junk time
    "J1,C1,caf\xe9_visit,2026-01-02T10:00:00Z,crm,shop\n"         # undecodable byte
    "J1,C1,order_placed,2026-01-01T10:00:00Z,crm,web\n"           # exact duplicate of row 1
    "J1,C1,order_placed,2026-01-01T10:00:00Z,crm,phone\n"         # differs in an extra column
    ",C2,call_queued,2026-01-02T04:00:00-05:00,telephony,phone\n"  # unlinked, other offset
    "J2,C2,order_placed,2026-01-01T11:00:00+01:00,crm,web\n"
    "J2,C2,  ,2026-01-01T12:00:00+0100,crm,web\n"                 # blank activity
    "J2,C2,service_active,,netops,\n"                              # time missing
    "J2,C2,service_active,2026-02-30T10:00:00Z,netops,\n"          # no such day
    "J2,C2,service_active, 2026-01-09T10:00:00.250Z ,netops,\n"    # padded, milliseconds
    "J3,C3,order_placed,2026-01-05 08:00:00Z,crm,web\n"            # a space, not a T
    "J3,C3,order_placed,2026-01-05T08:00:00+00:00,crm,web\n"
)
SURVEYS_CSV = (
    "response_id,customer_id,journey_id,ts,csat,nps,ces,comment\n"
    "R1,C1,J1,2026-01-05T00:00:00Z,5,9,6,fine\n"
    "R2,C1,J1,2026-01-05T00:00:00Z,6,9,6,\n"            # csat above 5
    "R3,C2,,2026-01-06T00:00:00Z,3.5,8,5,\n"            # not whole
    "R4,C2,J2,2026-01-06T00:00:00Z,4,ten,5,\n"          # not a number
    "R5,C3,J3,2026-01-07T00:00:00Z,,,,no scores\n"      # no scores at all: kept
    "R6,C3,J3,2026-01-07T00:00:00Z,2,11,0,\n"           # nps above 10 (first broken rule)
    "R1,C1,J1,2026-01-05T00:00:00Z,5,9,6,fine\n"        # exact duplicate
    "R1,C9,J1,2026-01-08T00:00:00Z,1,0,1,other\n"       # key repeated with other values
    "R7,C3,J3,2026-01-07T00:00:00Z,4.0,-1,7,\n"         # 4.0 is whole; nps below 0
    "R8,,J3,2026-01-07T00:00:00Z,4,7,7,\n"              # customer missing
    "R9,C3,J3,2026-01-07T00:00:00Z, 3 ,7,2,\n"          # padded score
)
CUSTOMERS_CSV = (
    "customer_id,region,plan\n"
    "C1,North,basic\n"
    "C2,,basic\n"               # region missing
    "C3,South,\n"
    "C1,South,plus\n"           # key repeated
    "C3,South,\n"               # exact duplicate
    "C4,East,plus\n"
)


def csv_folder(folder: Path) -> None:
    """Every rule broken once, in CSV files as a user's export writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "events.csv").write_bytes(EVENTS_CSV.encode("latin-1"))
    (folder / "surveys.csv").write_text(SURVEYS_CSV)
    (folder / "customers.csv").write_text(CUSTOMERS_CSV)


def parquet_folder(folder: Path) -> None:
    """Typed Parquet (tz-aware times, float scores with gaps, numeric extras) with faults."""
    folder.mkdir(parents=True, exist_ok=True)
    ts = pd.to_datetime(["2026-03-01T09:00:00Z", "2026-03-02T09:00:00Z", "2026-03-03T09:00:00Z",
                         "2026-03-01T09:00:00Z", None, "2026-03-04T09:00:00Z"], utc=True)
    pd.DataFrame({
        "journey_id": ["J1", "J1", None, "J1", "J2", "J2"],
        "customer_id": ["C1", None, "C1", "C1", "C2", "C2"],
        "activity": ["order_placed", "service_active", "call", "order_placed", "x", ""],
        "ts": ts.astype("datetime64[us, UTC]"),
        "source": ["crm", "netops", "tel", "crm", "crm", "crm"],
        "weight": [1.0, 2.0, np.nan, 1.0, 3.0, 4.0],
    }).to_parquet(folder / "events.parquet", index=False)
    pd.DataFrame({
        "response_id": ["R1", "R2", "R3", "R4", "R4", "R5"],
        "customer_id": ["C1", "C1", "C2", "C2", "C2", "C1"],
        "journey_id": ["J1", None, "J2", "J2", "J2", "J1"],
        "ts": pd.to_datetime(["2026-03-05T00:00:00+02:00"] * 6, utc=True),
        "csat": [5.0, np.nan, 3.5, 4.0, 4.0, 7.0],
        "nps": [10, 9, 8, 7, 7, 6],
        "ces": [7.0, 1.0, np.nan, 0.0, 0.0, 2.0],
        "comment": ["great", None, "", "slow", "slow", "meh"],
    }).to_parquet(folder / "surveys.parquet", index=False)
    pd.DataFrame({"customer_id": ["C1", "C2", "C2", None],
                  "region": ["North", "South", "West", "East"],
                  "tenure_years": [1.5, 2.0, 2.0, 3.0]}).to_parquet(
        folder / "customers.parquet", index=False)


def _one_customer(folder: Path) -> None:
    (folder / "customers.csv").write_text("customer_id,region\nC1,North\n")
    (folder / "surveys.csv").write_text(
        "response_id,customer_id,journey_id,ts,csat,nps,ces,comment\n"
        "R1,C1,S,2026-03-30 10:00:00,4,,,\n")


def naive_local_folder(folder: Path) -> None:
    """Naive London wall-clock times across both 2026 changes, with a broken row among them."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "events.csv").write_text(
        "journey_id,customer_id,activity,ts,source\n"
        "S,C1,a,2026-03-29 00:30:00,crm\n"
        "S,C1,b,2026-03-29 01:30:00,crm\n"        # skipped: clocks went forward
        "S,,b,2026-03-29 01:45:00,crm\n"          # skipped and quarantined: no note kept
        "S,C1,z,2026-03-29 02:45:00,crm\n"
        "A,C1,a,2026-10-25 00:30:00,crm\n"
        "A,C1,b,2026-10-25 01:30:00,crm\n"        # repeated: clocks went back
        "A,C1,c,2026-10-25T01:30:00,crm\n"        # the same, written with a T
        "A,C1,z,2026-10-25 02:30:00.5,crm\n"
        "A,C1,y,2026-10-25 25:30:00,crm\n")       # no such hour
    _one_customer(folder)


def naive_parquet_folder(folder: Path) -> None:
    """Naive timestamps typed in Parquet (no zone), read as São Paulo local time."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({
        "journey_id": ["J1", "J1", "J2"], "customer_id": ["C1", "C1", "C2"],
        "activity": ["open", "close", "open"], "source": ["crm"] * 3,
        "ts": pd.to_datetime(["2026-01-10 08:00:00", "2026-01-12 17:30:00",
                              None]).astype("datetime64[us]"),
    }).to_parquet(folder / "events.parquet", index=False)
    pd.DataFrame({"customer_id": ["C1", "C2"], "region": ["N", "S"]}).to_parquet(
        folder / "customers.parquet", index=False)
    pd.DataFrame({c: pd.Series(dtype="str") for c in
                  ("response_id", "customer_id", "journey_id", "ts", "csat", "nps", "ces",
                   "comment")}).to_parquet(folder / "surveys.parquet", index=False)


FAULTS: dict[str, tuple[Callable[[Path], None], str | None]] = {
    "csv": (csv_folder, None),
    "parquet": (parquet_folder, None),
    "naive_local": (naive_local_folder, "Europe/London"),
    "naive_parquet": (naive_parquet_folder, "America/Sao_Paulo"),
}


def _texts(frame: pd.DataFrame) -> dict:
    """A table as its column types and the text pandas prints for every value."""
    return {"dtypes": {str(c): str(t) for c, t in frame.dtypes.items()},
            "rows": frame.astype("str").to_numpy().tolist()}


def outcome(dataset, folder: Path, with_clean: bool = True) -> dict:  # dataset: cxlib.io.Dataset
    """What the contract made of a folder: quarantine, resolved values, quality, clean tables.

    File paths are written relative to the folder, so the record holds on any machine.
    """
    def relative(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(file=frame["file"].map(lambda f: Path(f).name if f else f))

    record = {"quarantine": _texts(relative(dataset.quarantine)),
              "resolved": _texts(relative(dataset.resolved)),
              "quality": _texts(relative(dataset.quality))}
    if with_clean:
        record.update({name: _texts(getattr(dataset, name))
                       for name in ("events", "surveys", "customers")})
    else:  # a large table: its size and a digest of its printed values
        record.update({name: {"rows": len(frame), "digest": int(
            pd.util.hash_pandas_object(frame.astype("str"), index=False).sum() % (1 << 61))}
            for name, frame in ((n, getattr(dataset, n))
                                for n in ("events", "surveys", "customers"))})
    return record
