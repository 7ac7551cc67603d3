"""Incidents (舆情): a spike of negative messages on one topic across members (plan §6.4).

Negative or complaint messages are given a topic (the first term of ``data/incident_topics.yaml``
found in the text, else the message's first intent). When at least ``min_members`` distinct
members raise the same topic within ``window_minutes``, an incident opens; it is detected at
the message that crossed the threshold. It stays open while the topic keeps coming up with gaps
under ``quiet_hours``. Severity and response tier grow with the number of members:
customer service (低), manager (中), director (高). The clocks are the plan's: detect within
1 hour, respond within 2, resolve within 24.
"""

from __future__ import annotations

import hashlib
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import select

from groupops.store.models import Alert, Incident
from groupops.store.warehouse import Warehouse
from groupops.store.workspace import Workspace

__all__ = [
    "DetectedIncident",
    "IncidentRules",
    "detect_incidents",
    "incident_level",
    "refresh_incidents",
    "topic_of",
]


@dataclass(frozen=True)
class IncidentRules:
    """Thresholds of incident detection."""

    window_minutes: int = 60
    min_members: int = 3
    quiet_hours: int = 24
    medium_members: int = 6
    high_members: int = 12
    detect_minutes: int = 60
    respond_minutes: int = 120
    resolve_minutes: int = 1440


@cache
def _topic_terms() -> tuple[tuple[str, str], ...]:
    text = resources.files("groupops.ops").joinpath("data/incident_topics.yaml").read_text(encoding="utf-8")
    return tuple((topic, term) for topic, terms in (yaml.safe_load(text) or {}).items() for term in terms)


def topic_of(text: str, intents: list[str] | None) -> str | None:
    """The incident topic of a negative message: a defect term, else its first intent."""
    from groupops.text.normalise import to_simplified_halfwidth

    normalised = to_simplified_halfwidth(text or "")
    for topic, term in _topic_terms():
        if term in normalised:
            return topic
    return intents[0] if intents else None


@dataclass
class DetectedIncident:
    """An incident found in the archive."""

    topic: str
    first_message_at: datetime
    detected_at: datetime
    last_message_at: datetime
    members: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    messages: int = 0
    sample_msgids: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        key = f"{self.topic}|{self.first_message_at.isoformat()}"
        return "inc-" + hashlib.sha1(key.encode()).hexdigest()[:16]

    def severity(self, rules: IncidentRules) -> tuple[str, str]:
        if len(self.members) >= rules.high_members:
            return "high", "director"
        if len(self.members) >= rules.medium_members:
            return "medium", "manager"
        return "low", "cs"


_NEGATIVE_SQL = """
SELECT l.msgid, l.group_id, l.sender_id, l.sent_at, l.intents, m.text
FROM message_labels l JOIN messages m USING (msgid)
WHERE (l.complaint OR l.sentiment = 'negative') AND NOT l.spam AND NOT m.revoked
ORDER BY l.sent_at, l.msgid
"""


def _scan_topic(events: list[dict[str, Any]], topic: str, rules: IncidentRules) -> list[DetectedIncident]:
    window: deque[dict[str, Any]] = deque()
    members_in_window: Counter[str] = Counter()
    found: list[DetectedIncident] = []
    current: DetectedIncident | None = None
    for event in events:
        if current and event["sent_at"] - current.last_message_at > timedelta(hours=rules.quiet_hours):
            current = None
        window.append(event)
        members_in_window[event["sender_id"]] += 1
        while event["sent_at"] - window[0]["sent_at"] > timedelta(minutes=rules.window_minutes):
            old = window.popleft()
            members_in_window[old["sender_id"]] -= 1
            if not members_in_window[old["sender_id"]]:
                del members_in_window[old["sender_id"]]
        if current is None and len(members_in_window) >= rules.min_members:
            first = window[0]["sent_at"]
            current = DetectedIncident(topic, first, event["sent_at"], event["sent_at"])
            found.append(current)
            for earlier in window:
                _add(current, earlier)
            continue
        if current is not None:
            _add(current, event)
    return found


def _add(incident: DetectedIncident, event: dict[str, Any]) -> None:
    incident.members.add(event["sender_id"])
    if event["group_id"]:
        incident.groups.add(event["group_id"])
    incident.messages += 1
    incident.last_message_at = max(incident.last_message_at, event["sent_at"])
    if len(incident.sample_msgids) < 10:
        incident.sample_msgids.append(event["msgid"])


def detect_incidents(warehouse: Warehouse, rules: IncidentRules | None = None) -> list[DetectedIncident]:
    """Every incident in the labelled archive, oldest first."""
    rules = rules or IncidentRules()
    with warehouse.connect() as connection:
        rows = connection.sql(_NEGATIVE_SQL).to_arrow_table().to_pylist()
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        topic = topic_of(row["text"], row["intents"])
        if topic:
            by_topic.setdefault(topic, []).append(row)
    incidents = [
        incident for topic in sorted(by_topic) for incident in _scan_topic(by_topic[topic], topic, rules)
    ]
    return sorted(incidents, key=lambda incident: (incident.first_message_at, incident.topic))


def incident_level(incident: Incident, rules: IncidentRules, now: datetime) -> str:
    """Three-colour escalation: green resolved; red when a clock ran out; amber otherwise."""
    if incident.resolved_at is not None:
        return "green"
    late_detection = incident.detected_at - incident.first_message_at > timedelta(
        minutes=rules.detect_minutes
    )
    respond_overdue = incident.responded_at is None and now > incident.detected_at + timedelta(
        minutes=rules.respond_minutes
    )
    resolve_overdue = now > incident.detected_at + timedelta(minutes=rules.resolve_minutes)
    return "red" if late_detection or respond_overdue or resolve_overdue else "amber"


def refresh_incidents(
    workspace: Workspace, rules: IncidentRules | None = None, now: datetime | None = None
) -> int:
    """Detect incidents, upsert them and their alerts (responses and resolutions set by people are kept)."""
    from groupops.ops.labels import label_new_messages

    rules = rules or IncidentRules()
    now = now or datetime.now(UTC)
    label_new_messages(workspace.warehouse)
    detected = detect_incidents(workspace.warehouse, rules)
    with workspace.database.session() as session:
        existing = {incident.id: incident for incident in session.scalars(select(Incident))}
        for found in detected:
            severity, tier = found.severity(rules)
            incident = existing.get(found.id) or Incident(id=found.id)
            incident.topic, incident.group_ids = found.topic, sorted(found.groups)
            incident.first_message_at, incident.detected_at = found.first_message_at, found.detected_at
            incident.members, incident.messages = len(found.members), found.messages
            incident.severity, incident.tier, incident.sample_msgids = severity, tier, found.sample_msgids
            session.add(incident)
            _upsert_alert(session, incident, incident_level(incident, rules, now))
    return len(detected)


def _upsert_alert(session: Any, incident: Incident, level: str) -> None:
    alert = session.get(Alert, f"alert-{incident.id}") or Alert(id=f"alert-{incident.id}", kind="incident")
    alert.level = level
    alert.title = (
        f"{incident.topic}: {incident.members} members, {incident.messages} messages ({incident.tier})"
    )
    alert.detail = {"incident": incident.id, "severity": incident.severity, "tier": incident.tier,
                    "groups": incident.group_ids}  # fmt: skip
    alert.scope = incident.group_ids[0] if len(incident.group_ids) == 1 else "brand"
    alert.value = float(incident.members)
    alert.raised_at = incident.detected_at
    session.add(alert)
