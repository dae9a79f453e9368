"""Importing a company's own exports (CSV, Parquet, XES) into the canonical tables.

A mapping file says which source column (or XES attribute) feeds each canonical column and how
activities are renamed, so nobody edits code for their own export::

    # params/mappings/helpdesk.yaml
    columns: {journey_id: "case:concept:name", customer_id: "customer",
              activity: "concept:name", ts: "time:timestamp"}
    source: helpdesk               # the source-system name, when no column holds one
    activities: {"Resolve ticket": ticket_resolved}
    lifecycle: [complete]          # XES: keep these lifecycle:transition values (default: all)
    timezone: Europe/Berlin        # the zone of timestamps without a UTC offset

A ``start`` and the next ``complete`` of the same activity in a journey (XES
``lifecycle:transition``, or a ``lifecycle`` column) become one **activity instance**: one
event at its completion with ``activity_start_ts`` (when work on it began), as PM4Py's interval
logs have; an interval log's own ``start_timestamp`` maps to ``activity_start_ts`` directly.
Other transitions stay events of their own, their ``lifecycle`` kept. Each event keeps the UTC
offset its timestamp was written with (``utc_offset``, e.g. ``+01:00``; blank for local times
without one).

A *wide* export (one row per order, one timestamp column per milestone) names its milestones
instead of an activity and a timestamp column; each filled cell becomes one event::

    columns: {journey_id: order_id, customer_id: customer_id}
    milestones: {purchase: purchased_at, approval: approved_at, delivery: delivered_at,
                 delivery_promised: estimated_delivery_date}

XES's standard keys map by default; where no customer column is mapped, each journey is its own
customer. XES is read with a streaming parser (lxml ``iterparse``), one trace at a time.
"""

from __future__ import annotations

import codecs
import gzip
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import yaml
from lxml import etree
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from cxlib.config import TimeZone, params_error
from cxlib.errors import ContractError, ParamsError, RefusedWrite
from cxlib.io import DATA_NOTES, READERS, folder_timezone, read_csv
from cxlib.paths import resolve
from cxlib.schema import CONTRACT, as_timestamp, utc_offsets

REQUIRED_EVENT_COLUMNS = ("journey_id", "activity", "ts")  # customer_id and source have defaults
# optional event columns an import fills when the export has them
INSTANCE_COLUMNS = ("activity_start_ts", "lifecycle")
XES_DEFAULTS = {"journey_id": "case:concept:name", "activity": "concept:name",
                "ts": "time:timestamp", "activity_start_ts": "start_timestamp",
                "lifecycle": "lifecycle:transition"}
_XES_TYPES: dict[str, Callable[[str], object]] = {
    "string": str, "id": str, "date": str,
    "int": int, "float": float, "boolean": lambda v: v.lower() == "true",
}


class Mapping(BaseModel):
    """How one export maps onto the canonical ``events`` (and ``customers``) tables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, str] = {}
    milestones: dict[str, str] = {}  # wide exports: activity → the column holding its timestamp
    scores: dict[str, dict[str, int]] = {}  # surveys: score → {label: value on its scale}
    source: str | None = None
    activities: dict[str, str] = {}
    lifecycle: tuple[str, ...] = ()
    region: str | None = None  # a customer attribute column to use as region
    customer_attributes: tuple[str, ...] = ()  # more columns about the customer (plan, tenure)
    timezone: TimeZone | None = None  # of timestamps without a UTC offset; kept in data.yaml
    encoding: str = "utf-8"  # of a CSV export, e.g. latin-1 or cp1252

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, encoding: str) -> str:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"unknown text encoding {encoding!r} (e.g. utf-8, latin-1, "
                             "cp1252)") from None
        return encoding


def load_mapping(path: str | Path | None) -> Mapping:
    """Read a mapping YAML file (or return the defaults when ``path`` is None)."""
    if path is None:
        return Mapping()
    p = resolve(path)
    try:
        return Mapping.model_validate(yaml.safe_load(p.read_text()) or {})
    except FileNotFoundError:
        raise ParamsError(str(p), "-", "file not found") from None
    except yaml.YAMLError as exc:
        raise ParamsError(str(p), "-", f"not valid YAML: {exc}") from None
    except ValidationError as exc:
        raise params_error(p, Mapping, exc) from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attributes(element: etree._Element) -> dict[str, object]:
    out = {}
    for child in element:
        kind = _local(child.tag)
        if kind in _XES_TYPES and "key" in child.attrib:
            try:
                out[child.attrib["key"]] = _XES_TYPES[kind](child.attrib.get("value", ""))
            except ValueError:
                out[child.attrib["key"]] = child.attrib.get("value")
    return out


def iter_xes(path: str | Path) -> Iterator[dict[str, object]]:
    """Yield one dict per event: its attributes, plus the trace's as ``case:<key>``."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        for _, trace in etree.iterparse(handle, events=("end",), tag="{*}trace",
                                        huge_tree=True):
            case = {f"case:{k}": v for k, v in _attributes(trace).items()}
            for event in trace.iterchildren("{*}event"):
                yield {**case, **_attributes(event)}
            trace.clear(keep_tail=False)
            while trace.getprevious() is not None:  # free what the parser already handed us
                del trace.getparent()[0]


def read_xes(path: str | Path) -> pd.DataFrame:
    """Read an XES (or .xes.gz) event log into a flat DataFrame, one row per event.

    Timestamps become UTC; the offset ``time:timestamp`` was written with is kept in
    ``utc_offset``.
    """
    frame = pd.DataFrame.from_records(iter_xes(path))
    if "time:timestamp" in frame.columns:
        frame["utc_offset"] = utc_offsets(frame["time:timestamp"])
    for key in ("time:timestamp", "start_timestamp"):
        if key in frame.columns:
            frame[key] = pd.to_datetime(frame[key], utc=True, format="ISO8601")
    return frame


def activity_instances(events: pd.DataFrame) -> pd.DataFrame:
    """Pair each ``start`` with the next ``complete`` of the same activity in its journey.

    The pair becomes one event at the completion, with ``activity_start_ts`` (first come, first
    served, as PM4Py's ``to_interval``). A start without a later completion stays an event of
    its own (work begun, not finished); so do other transitions.
    """
    stage = events["lifecycle"].astype("str").str.strip().str.lower()
    if not (stage == "start").any():
        return events
    when = pd.to_datetime(events["ts"], utc=True, format="ISO8601", errors="coerce")
    pairing = stage.isin(["start", "complete"]) & events["journey_id"].notna() & when.notna()
    order = events[pairing].assign(_stage=stage[pairing], _ts=when[pairing])
    order = order.sort_values(["_ts"], kind="stable")
    waiting: dict[tuple[object, object], list[object]] = {}
    start_of: dict[object, object] = {}  # complete row → its start row
    for row, journey, activity, kind in zip(order.index, order["journey_id"],
                                            order["activity"], order["_stage"], strict=True):
        queue = waiting.setdefault((journey, activity), [])
        if kind == "start":
            queue.append(row)
        elif queue:
            start_of[row] = queue.pop(0)
    out = events.drop(index=list(start_of.values())).copy()
    if "activity_start_ts" not in out.columns:
        out["activity_start_ts"] = pd.Series(None, index=out.index, dtype="object")
    out["activity_start_ts"] = out["activity_start_ts"].astype("object")
    completes = list(start_of)
    out.loc[completes, "activity_start_ts"] = events.loc[list(start_of.values()), "ts"].to_numpy()
    return out


def read_source(path: str | Path, encoding: str = "utf-8") -> pd.DataFrame:
    """Read an export by its suffix: ``.xes``/``.xes.gz`` or any registered table reader.

    ``encoding`` is the text encoding of a CSV export.
    """
    p = resolve(path)
    if not p.is_file():
        raise ContractError(str(p), "-", None, "source file not found")
    if p.name.endswith((".xes", ".xes.gz")):
        try:
            return read_xes(p)
        except (etree.XMLSyntaxError, OSError) as exc:
            raise ContractError(str(p), "-", None, f"not a readable XES file: {exc}") from exc
    if p.suffix not in READERS:
        raise ContractError(str(p), "-", None, f"unknown format {p.suffix!r}; use .xes, "
                            f".xes.gz or {', '.join(READERS)}")
    return read_csv(p, encoding) if p.suffix == ".csv" else READERS[p.suffix](p)


def _milestone_events(raw: pd.DataFrame, mapping: Mapping, columns: dict[str, str],
                      origin: str) -> pd.DataFrame:
    """One event per filled milestone cell of a wide export, each order's events together.

    An empty cell is a milestone not reached (yet): no event, and nothing to quarantine.
    """
    present = ", ".join(map(str, raw.columns))
    for activity, column in mapping.milestones.items():
        if column not in raw.columns:
            raise ContractError(origin, column, None, f"named as milestone {activity!r} but not "
                                f"in the export (columns: {present})")
    parts = []
    for activity, column in mapping.milestones.items():
        cells = raw[column]
        reached = cells.notna() & (cells.astype("str").str.strip() != "")
        parts.append(pd.DataFrame({**{c: raw.loc[reached, s] for c, s in columns.items()},
                                   "activity": activity, "ts": cells[reached]}))
    return pd.concat(parts).sort_index(kind="stable")


def to_canonical(raw: pd.DataFrame, mapping: Mapping, origin: str) -> dict[str, pd.DataFrame]:
    """Map a flat export to the canonical events, customers and (empty) surveys tables.

    A long export maps an activity and a timestamp column; a wide one names its ``milestones``.
    """
    columns = {**(XES_DEFAULTS if "concept:name" in raw.columns else {}), **mapping.columns}
    present = ", ".join(map(str, raw.columns)) or "none"
    if mapping.milestones:
        both = [c for c in ("activity", "ts") if c in columns]
        if both:
            raise ParamsError(origin, f"columns.{both[0]}", "a wide export names its timestamp "
                              "columns under `milestones:` (activity: column); map no "
                              "`activity` or `ts` column as well")
    columns = {k: v for k, v in columns.items()
               if k not in INSTANCE_COLUMNS or v in raw.columns or k in mapping.columns}
    for canonical, source_col in columns.items():
        if canonical not in CONTRACT["events"] and canonical not in INSTANCE_COLUMNS:
            raise ParamsError(origin, f"columns.{canonical}", "not a column of the events "
                              f"table ({', '.join([*CONTRACT['events'], *INSTANCE_COLUMNS])})")
        if source_col not in raw.columns:
            raise ContractError(origin, source_col, None, f"mapped to {canonical} but not in "
                                f"the export (columns: {present})")
    # a contacts export (calls, chats) has no journey id: its events find their journey by
    # customer and time, so it names the customer instead
    owner_key = "journey_id" if "journey_id" in columns or "customer_id" not in columns \
        else "customer_id"
    required = (owner_key,) if mapping.milestones else (
        owner_key, *REQUIRED_EVENT_COLUMNS[1:])
    unmapped = [c for c in required if c not in columns]
    if unmapped:
        example = ", ".join(f"{c}: <your column>" for c in unmapped)
        raise ContractError(origin, ", ".join(unmapped), None,
                            f"no column of the export is mapped to {', '.join(unmapped)}; name "
                            f"them in a mapping file given with `cx import --mapping FILE`, "
                            f"under `columns:` (e.g. columns: {{{example}}}); columns in the "
                            f"export: {present}")
    if mapping.lifecycle and "lifecycle:transition" in raw.columns:
        raw = raw[raw["lifecycle:transition"].astype("str").str.lower()
                  .isin([v.lower() for v in mapping.lifecycle])]
    events = (_milestone_events(raw, mapping, columns, origin) if mapping.milestones
              else pd.DataFrame({c: raw[s] for c, s in columns.items()}))
    events["utc_offset"] = (raw.loc[events.index, "utc_offset"] if "utc_offset" in raw.columns
                            else utc_offsets(events["ts"]))
    if "lifecycle" in events.columns:
        events = activity_instances(events)
    if "activity_start_ts" in events.columns:
        began = columns.get("activity_start_ts", "the starts of its lifecycle pairs")
        events["activity_start_ts"], _ = as_timestamp(events["activity_start_ts"], origin,
                                                      began, mapping.timezone)
    owner = raw[columns.get("customer_id", columns.get("journey_id"))]  # per row of the export
    if "journey_id" not in events.columns:
        events["journey_id"] = None  # attributed to the customer's journey open at the time
    if "customer_id" not in events.columns:
        events["customer_id"] = events["journey_id"]  # each journey its own customer
    if "source" not in events.columns:
        events["source"] = mapping.source or Path(origin).name.split(".")[0]
    if mapping.activities:
        events["activity"] = events["activity"].replace(mapping.activities)
    extras = [c for c in (*INSTANCE_COLUMNS, "utc_offset") if c in events.columns]
    if not events["utc_offset"].notna().any():
        extras.remove("utc_offset")
    events = events[[*CONTRACT["events"], *extras]]
    customers = events[["customer_id"]].dropna().drop_duplicates().astype("str")
    missing = [c for c in (mapping.region, *mapping.customer_attributes)
               if c and c not in raw.columns]
    if missing:
        raise ContractError(origin, ", ".join(missing), None, "named as a customer attribute "
                            f"in the mapping but not in the export (columns: {present})")
    wanted = {c: c for c in mapping.customer_attributes}
    if mapping.region:
        wanted[mapping.region] = "region"
    if wanted:  # each customer's first value in the export
        per_customer = (raw.assign(customer_id=owner.astype("str"))
                        .groupby("customer_id")[list(wanted)].first().rename(columns=wanted))
        customers = customers.merge(per_customer.reset_index(), how="left")
    if "region" in customers.columns:
        customers["region"] = customers["region"].fillna("unknown").astype("str")
    else:
        customers["region"] = "unknown"
    surveys = pd.DataFrame({c: pd.Series(dtype="str") for c in CONTRACT["surveys"]})
    return {"events": events.reset_index(drop=True),
            "customers": customers.reset_index(drop=True), "surveys": surveys}


SCORES = ("csat", "nps", "ces")


def survey_table(raw: pd.DataFrame, mapping: Mapping, origin: str,
                 events: pd.DataFrame | None = None) -> tuple[pd.DataFrame, int]:
    """Map a survey export to the canonical ``surveys`` table.

    Returns the table and how many repeated response ids were made unique.
    ``mapping.columns`` names the export's columns for the canonical ones; ``scores`` turns
    labels into the contract's scales (``csat: {dissatisfied: 1, satisfied: 5}``). Without a
    response id, one is made from the file and row; an id repeated for different journeys gets
    a ``~2``, ``~3`` suffix (counted, never quarantined). Without a customer or a timestamp, the
    journey's customer and its last event come from ``events`` (the folder's events table);
    with no events at all (survey answers alone), each answer is its own respondent.
    Other columns (a measured delay, a channel) are kept as they are.
    """
    contract = CONTRACT["surveys"]
    present = ", ".join(map(str, raw.columns)) or "none"
    for canonical, column in mapping.columns.items():
        if canonical not in contract:
            raise ParamsError(origin, f"columns.{canonical}", "not a column of the surveys "
                              f"table ({', '.join(contract)})")
        if column not in raw.columns:
            raise ContractError(origin, column, None, f"mapped to {canonical} but not in the "
                                f"export (columns: {present})")
    for score in mapping.scores:
        if score not in SCORES:
            raise ParamsError(origin, f"scores.{score}", f"not a score ({', '.join(SCORES)})")
    columns = mapping.columns
    needs = [("csat, nps or ces", SCORES)]
    if events is not None:  # answers beside an event log must say whose journey they rate
        needs.insert(0, ("journey_id or customer_id", ("journey_id", "customer_id")))
    unmapped = [needed for needed, options in needs if not set(options) & set(columns)]
    if unmapped:
        raise ContractError(origin, " and ".join(unmapped), None,
                            "a survey export needs at least one score (csat, nps, ces) under "
                            "`columns:` in its mapping, and beside an event log a `journey_id` "
                            f"or `customer_id` column (columns in the export: {present})")
    out = raw.rename(columns={v: k for k, v in columns.items()}).copy()
    for score, labels in mapping.scores.items():
        if score in out:
            out[score] = out[score].map(lambda v, m=labels: m.get(str(v).strip(), v))
    if "response_id" not in columns:
        out["response_id"] = [f"{Path(origin).name.split('.')[0]}-{i}"
                              for i in range(1, len(out) + 1)]
    out["response_id"] = out["response_id"].astype("str")
    made_unique = 0
    if "journey_id" in out:
        first = ~out.duplicated(subset=["response_id", "journey_id"])
        seen = out[first].groupby("response_id").cumcount()
        clash = seen > 0
        made_unique = int(clash.sum())
        out.loc[seen.index[clash], "response_id"] = (out.loc[seen.index[clash], "response_id"]
                                                     + "~" + (seen[clash] + 1).astype("str"))
    known = (events.dropna(subset=["journey_id"]).groupby("journey_id")
             .agg(customer_id=("customer_id", "first"), ts=("ts", "max"))
             if events is not None and "journey_id" in out else None)
    if "customer_id" not in out and events is None:
        out["customer_id"] = out["response_id"]  # survey answers alone: each its own respondent
    for column in ("customer_id", "ts"):
        if column not in out:
            if known is None:
                raise ContractError(origin, column, None, f"no column is mapped to {column} and "
                                    "there are no imported events to take it from; map it under "
                                    "`columns:`, or import the events into the folder first")
            out[column] = out["journey_id"].map(known[column])
    for column in contract:
        if column not in out:
            out[column] = pd.Series(pd.NA, index=out.index, dtype="object")
    return out[[*contract, *[c for c in out.columns if c not in contract]]], made_unique


IMPORT_FILES = ("events.parquet", "surveys.parquet", "customers.parquet", DATA_NOTES)


def check_import_target(folder: Path, own_files: tuple[str, ...] = IMPORT_FILES,
                        what: str = "import") -> None:
    """Refuse to write into anything but a new or empty folder, or one this writer filled.

    An import replaces the canonical tables; a folder holding other files (a project's
    ``data/`` with its demo worlds, a hand-made CSV data folder) is never written into.
    """
    if folder.exists() and not folder.is_dir():
        raise RefusedWrite(f"{folder}: not a folder; an {what} needs a folder of its own")
    foreign = sorted(p.name for p in folder.iterdir() if p.name not in own_files) \
        if folder.is_dir() else []
    if foreign:
        raise RefusedWrite(f"{folder}: refusing to {what} into a folder that holds other files "
                           f"({', '.join(foreign[:5])}); choose an empty or new folder")


def _appended(folder: Path, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Add an export's events and customers to those the folder already holds.

    A customer known with a region keeps it; one seen first without (a contacts export) gains
    the region a later export gives.
    """
    out = dict(tables)
    for name in ("events", "customers"):
        path = folder / f"{name}.parquet"
        if path.is_file():
            parts = [pd.read_parquet(path), tables[name]]
            if name == "events" and len({str(p["ts"].dtype) for p in parts}) > 1:
                # naive local text beside instants: keep both as text for the contract to read
                parts = [p.assign(ts=p["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f%z"))
                         if isinstance(p["ts"].dtype, pd.DatetimeTZDtype) else p for p in parts]
            out[name] = pd.concat(parts, ignore_index=True)
    customers = out["customers"]
    known = customers["region"].ne("unknown")
    out["customers"] = (customers.assign(_unknown=~known)
                        .sort_values("_unknown", kind="stable")
                        .drop_duplicates("customer_id").drop(columns="_unknown")
                        .sort_index().reset_index(drop=True))
    return out


def _write_timezone(folder: Path, zone: str | None, append: bool) -> None:
    """Keep the zone of the folder's naive timestamps in its ``data.yaml``."""
    notes = folder / DATA_NOTES
    declared = folder_timezone(folder) if append else None
    if zone and declared and zone != declared:
        raise ParamsError(str(notes), "timezone", f"the folder's naive times are {declared!r} "
                          f"local time; this mapping says {zone!r} — one folder, one zone for "
                          "times without an offset (give this export's times an offset, or "
                          "import it into its own folder)")
    if zone:
        notes.write_text(f"# written by cx import: naive timestamps here are local time in\n"
                         f"timezone: {zone}\n")
    elif not append:
        notes.unlink(missing_ok=True)  # a re-import without a zone leaves no stale one


def import_source(source: str | Path, out: str | Path, mapping: str | Path | None = None,
                  table: str = "events", append: bool = False) -> dict[str, int]:
    """Import one export into a data folder of canonical Parquet tables; return row counts.

    A mapping's ``timezone`` goes into the folder's ``data.yaml``, so every later load reads the
    export's naive local timestamps in that zone (counting daylight-saving resolutions).
    ``table="surveys"`` imports a survey export into the folder (see :func:`survey_table`),
    leaving its events and customers as they are; an events import keeps earlier surveys.
    ``append`` adds the export's events to the folder's (one export per source system).
    """
    rules = load_mapping(mapping)
    folder = resolve(out)
    check_import_target(folder)
    raw = read_source(source, rules.encoding)
    if table == "surveys":
        events = (pd.read_parquet(folder / "events.parquet")
                  if (folder / "events.parquet").is_file() else None)
        surveys, made_unique = survey_table(raw, rules, str(source), events)
        folder.mkdir(parents=True, exist_ok=True)
        _write_timezone(folder, rules.timezone, append=True)
        surveys.to_parquet(folder / "surveys.parquet", index=False)
        return {"surveys": len(surveys), "response ids made unique": made_unique}
    if table != "events":
        raise ParamsError("cx import", "--table", f"unknown table {table!r} (events, surveys)")
    tables = to_canonical(raw, rules, str(source))
    if isinstance(tables["events"]["ts"].dtype, pd.DatetimeTZDtype):
        tables["events"]["ts"] = tables["events"]["ts"].dt.tz_convert("UTC")
    counts = {name: len(table) for name, table in tables.items()}
    if (folder / "surveys.parquet").is_file():
        tables.pop("surveys")  # keep the answers an earlier survey import wrote
    folder.mkdir(parents=True, exist_ok=True)
    _write_timezone(folder, rules.timezone, append)
    if append:
        tables = _appended(folder, tables)
    for name, table in tables.items():
        table.to_parquet(folder / f"{name}.parquet", index=False)
    if "activity_start_ts" in tables["events"].columns:
        counts["activity instances (start and completion)"] = int(
            tables["events"]["activity_start_ts"].notna().sum())
    return counts
