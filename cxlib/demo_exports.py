"""The demo world in the shapes a company hands it over, with the mappings that import it.

Real data never arrives as cxlab's canonical tables: the order system gives one row per order
with a timestamp column per milestone, in local time without an offset; the field-service and
network systems give an XES log with their own activity labels; the call centre gives a table of
calls and chats with no order number; the survey tool gives labelled answers. ``cx demo
--export-shapes DIR`` writes the demo world that way, with one mapping file per export and a
``README.md`` listing the ``cx import`` commands — importing them gives the canonical demo's
journeys exactly (a test runs those commands).
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

import pandas as pd
import yaml

from cxlib.importing import check_import_target
from cxlib.io import Dataset
from cxlib.synth import CUSTOMER_ATTRIBUTES, LOCAL_ZONE, ORDER_MILESTONES, ORDER_SYSTEM

EXPORTS = ("orders", "field_and_network", "contacts", "survey")
EXPORT_FILES = ("orders.csv", "field_and_network.xes", "contacts.csv", "survey.csv", "README.md",
                *(f"{name}.yaml" for name in EXPORTS))
CSAT_LABELS = {1: "Very dissatisfied", 2: "Dissatisfied", 3: "Neither",
               4: "Satisfied", 5: "Very satisfied"}


def _local_text(ts: pd.Series) -> pd.Series:
    """Instants as the naive local wall-clock text order systems export."""
    local = ts.dt.tz_convert(LOCAL_ZONE)
    return local.dt.strftime("%Y-%m-%d %H:%M:%S").where(ts.notna(), None)


def _label(activity: str) -> str:
    return activity.replace("_", " ").capitalize()


def _orders(events: pd.DataFrame, customers: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Return one row per order: customer, region, attributes, a local-time column per milestone."""
    order_events = events[(events["source"] == ORDER_SYSTEM) & events["journey_id"].notna()]
    unknown = set(order_events["activity"]) - set(ORDER_MILESTONES)
    if unknown or order_events.duplicated(["journey_id", "activity"]).any():
        raise ValueError("the order system's events no longer fit one row per order "
                         f"(activities {sorted(unknown)}, or one repeated in an order)")
    wide = (order_events.assign(at=_local_text(order_events["ts"]))
            .pivot(index="journey_id", columns="activity", values="at")
            .reindex(columns=list(ORDER_MILESTONES)).rename(columns=ORDER_MILESTONES))
    owner = order_events.groupby("journey_id")["customer_id"].first()
    wide.insert(0, "customer_id", owner)
    wide = wide.join(customers.set_index("customer_id")[["region", *CUSTOMER_ATTRIBUTES]],
                     on="customer_id")
    orders = wide.reset_index().rename(columns={"journey_id": "order_id"})
    mapping = {"columns": {"journey_id": "order_id", "customer_id": "customer_id"},
               "source": ORDER_SYSTEM, "region": "region",
               "customer_attributes": list(CUSTOMER_ATTRIBUTES), "timezone": LOCAL_ZONE,
               "milestones": dict(ORDER_MILESTONES)}
    return orders, mapping


def _write_xes(events: pd.DataFrame, path: Path) -> dict:
    """Write every other system's journey-linked events as XES, one trace per order.

    Timestamps carry the local UTC offset; activities carry the systems' own labels.
    """
    linked = events[(events["source"] != ORDER_SYSTEM) & events["journey_id"].notna()]
    linked = linked.sort_values(["journey_id", "ts", "source_row"], kind="stable")
    stamps = (linked["ts"].dt.tz_convert(LOCAL_ZONE).dt.strftime("%Y-%m-%dT%H:%M:%S.000%z")
              .str.replace(r"(\d\d)(\d\d)$", r"\1:\2", regex=True))
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<log xes.version="1.0" xmlns="http://www.xes-standard.org/">']
    frame = linked.assign(stamp=stamps.to_numpy())
    for journey, trace in frame.groupby("journey_id", sort=True):
        lines.append(f'  <trace><string key="concept:name" value={quoteattr(journey)}/>'
                     f'<string key="customer" value={quoteattr(trace["customer_id"].iloc[0])}/>')
        lines.extend(f'    <event><string key="concept:name" value={quoteattr(_label(a))}/>'
                     f'<string key="system" value={quoteattr(s)}/>'
                     f'<date key="time:timestamp" value="{t}"/></event>'
                     for a, s, t in zip(trace["activity"], trace["source"], trace["stamp"],
                                        strict=True))
        lines.append("  </trace>")
    lines.append("</log>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"columns": {"customer_id": "case:customer", "source": "system"},
            "activities": {_label(a): a for a in sorted(linked["activity"].unique())}}


def _contacts(events: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Return calls and chats: customer, channel, event code and local time; no order number."""
    loose = events[events["journey_id"].isna()]
    contacts = pd.DataFrame({"customer": loose["customer_id"].to_numpy(),
                             "channel": loose["source"].to_numpy(),
                             "event": loose["activity"].str.upper().to_numpy(),
                             "time": _local_text(loose["ts"]).to_numpy()})
    mapping = {"columns": {"customer_id": "customer", "activity": "event", "ts": "time",
                           "source": "channel"},
               "activities": {a.upper(): a for a in sorted(loose["activity"].unique())},
               "timezone": LOCAL_ZONE}
    return contacts, mapping


def _survey(surveys: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Return answers with labelled satisfaction, local submission time and the order number."""
    answers = pd.DataFrame({
        "response_id": surveys["response_id"],
        "order_id": surveys["journey_id"],
        "submitted_at": _local_text(surveys["ts"]),
        "satisfaction": surveys["csat"].map(CSAT_LABELS),
        "likely_to_recommend": surveys["nps"],
        "effort": surveys["ces"],
        "comment": surveys["comment"]}).reset_index(drop=True)
    mapping = {"columns": {"response_id": "response_id", "journey_id": "order_id",
                           "ts": "submitted_at", "csat": "satisfaction",
                           "nps": "likely_to_recommend", "ces": "effort",
                           "comment": "comment"},
               "scores": {"csat": {label: value for value, label in CSAT_LABELS.items()}},
               "timezone": LOCAL_ZONE}
    return answers, mapping


def export_shapes(data: Dataset, out: str | Path) -> list[str]:
    """Write the checked demo ``data`` as a company's exports into ``out``.

    Returns the ``cx import`` commands, in order, that bring them into one data folder
    (``DATA``); they are also written to ``out/README.md``.
    """
    folder = Path(out)
    check_import_target(folder, EXPORT_FILES, "export")
    folder.mkdir(parents=True, exist_ok=True)
    orders, orders_map = _orders(data.events, data.customers)
    orders.to_csv(folder / "orders.csv", index=False)
    xes_map = _write_xes(data.events, folder / "field_and_network.xes")
    contacts, contacts_map = _contacts(data.events)
    contacts.to_csv(folder / "contacts.csv", index=False)
    answers, survey_map = _survey(data.surveys)
    answers.to_csv(folder / "survey.csv", index=False)
    for name, mapping in zip(EXPORTS, (orders_map, xes_map, contacts_map, survey_map),
                             strict=True):
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(mapping, sort_keys=False,
                                                            allow_unicode=True))
    commands = [
        f"cx import {folder}/orders.csv --mapping {folder}/orders.yaml --out DATA",
        f"cx import {folder}/field_and_network.xes --mapping {folder}/field_and_network.yaml "
        "--out DATA --append",
        f"cx import {folder}/contacts.csv --mapping {folder}/contacts.yaml --out DATA --append",
        f"cx import {folder}/survey.csv --mapping {folder}/survey.yaml --table surveys "
        "--out DATA",
    ]
    (folder / "README.md").write_text(
        "# The demo world, as a company hands it over\n\n"
        "- `orders.csv` — the order system: one row per order, a column per milestone, local "
        f"time ({LOCAL_ZONE}) without an offset\n"
        "- `field_and_network.xes` — field service, back office, network, SMS and web: an XES "
        "log, one trace per order, the systems' own activity labels, local UTC offsets\n"
        "- `contacts.csv` — calls and chats: no order number; each finds its order by customer "
        "and time\n"
        "- `survey.csv` — answers with labelled satisfaction\n\n"
        "Import them into one data folder (replace DATA):\n\n```\n"
        + "\n".join(commands) + "\n```\n")
    return commands
