"""Group snapshots (``groupchat/get`` JSON), ``members.csv`` and the ground-truth file."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from groupops.simulate._calendar import iso_local, local_date
from groupops.simulate._catalogue import Catalogue
from groupops.simulate._commerce import Incident
from groupops.simulate._population import KINDS, NEVER, Population

__all__ = ["MEMBER_COLUMNS", "truth_document", "write_group_snapshots", "write_members_csv"]

MEMBER_COLUMNS = [
    "external_userid",
    "name",
    "gender",
    "age_band",
    "region",
    "tags",
    "followers",
    "consent_time",
]


def _staff_entries(population: Population, group: int) -> list[dict[str, Any]]:
    groups, staff = population.groups, population.staff
    create = int(groups.create_ts[group])
    owner = int(groups.owners[group])
    entries = []
    for offset, index in enumerate([owner, *groups.admins[group]]):
        entries.append({
            "userid": staff.userids[index], "type": 1, "join_time": create + offset * 60,
            "join_scene": 1, "group_nickname": staff.displays[index], "name": staff.names[index],
        })  # fmt: skip
        if offset:
            entries[-1]["invitor"] = {"userid": staff.userids[owner]}
    return entries


def _external_entries(population: Population, group: int) -> list[dict[str, Any]]:
    memberships, members = population.memberships, population.members
    end = population.period.end_ts
    rows = np.flatnonzero(
        (memberships.group == group) & (memberships.join_ts < end) & (memberships.leave_ts >= NEVER)
    )
    entries = []
    for row in rows.tolist():
        member = int(memberships.member[row])
        entry: dict[str, Any] = {
            "userid": members.ids[member], "type": 2, "join_time": int(memberships.join_ts[row]),
            "join_scene": int(memberships.join_scene[row]),
        }  # fmt: skip
        if memberships.invitor[row]:
            entry["invitor"] = {"userid": memberships.invitor[row]}
        entry.update(
            group_nickname=memberships.nickname[row],
            name=members.names[member],
            unionid=members.unionids[member],
        )
        entries.append(entry)
    return entries


def write_group_snapshots(population: Population, directory: Path) -> list[Path]:
    """One ``externalcontact/groupchat/get`` response per group, as of the end of the period."""
    directory.mkdir(parents=True, exist_ok=True)
    groups, paths = population.groups, []
    for group, chat_id in enumerate(groups.chat_ids):
        member_list = _staff_entries(population, group) + _external_entries(population, group)
        version = hashlib.md5("".join(sorted(entry["userid"] for entry in member_list)).encode()).hexdigest()
        document = {
            "errcode": 0, "errmsg": "ok",
            "group_chat": {
                "chat_id": chat_id, "name": groups.names[group],
                "owner": population.staff.userids[int(groups.owners[group])],
                "create_time": int(groups.create_ts[group]), "notice": groups.notices[group],
                "member_list": member_list,
                "admin_list": [{"userid": population.staff.userids[index]} for index in groups.admins[group]],
                "member_version": version,
            },
            "groupops_kind": KINDS[int(groups.kinds[group])],
        }  # fmt: skip
        path = directory / f"groupchat-{chat_id}.json"
        path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def write_members_csv(population: Population, path: Path) -> None:
    """``members.csv``: every member ever seen, including those who later left."""
    members = population.members
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(MEMBER_COLUMNS)
        for index, member_id in enumerate(members.ids):
            writer.writerow([
                member_id, members.names[index], members.genders[index], members.age_bands[index],
                members.regions[index], members.tags[index], int(members.followers[index]),
                iso_local(int(members.consent_ts[index])),
            ])  # fmt: skip


def truth_document(
    population: Population, catalogue: Catalogue, incident: Incident, incident_msgids: list[str], seed: int
) -> dict[str, Any]:
    """What the simulator planted, for tests of the analytics: hubs, KOCs, churn, the incident."""
    members, period = population.members, population.period
    hubs = [
        members.ids[int(index)] for index in np.argsort(-members.degree, kind="stable") if members.hub[index]
    ]
    tiers: dict[str, list[str]] = {"head": [], "waist": [], "tail": []}
    for index, tier in enumerate(members.koc_tier):
        if tier:
            tiers[tier].append(members.ids[index])
    churned = [
        {
            "member_id": members.ids[index], "churn_date": local_date(int(members.churn_ts[index])).isoformat(),
            "silent_from": iso_local(int(members.silent_from_ts[index])), "left_group": bool(members.left[index]),
        }
        for index in np.flatnonzero(members.churn_ts < NEVER).tolist()
    ]  # fmt: skip
    return {
        "seed": seed, "start": period.start.isoformat(), "days": period.days, "members": len(members.ids),
        "hubs": hubs, "koc_tiers": tiers, "churned": churned,
        "incident": {
            "kind": "product_defect_spike", "sku": incident.sku, "product_name": incident.product_name,
            "cause": incident.cause, "date": local_date(incident.day_ts).isoformat(),
            "members": [members.ids[index] for index in incident.members], "complaint_msgids": incident_msgids,
        },
        "label_defects": catalogue.label_defects,
        "spammers": [members.ids[index] for index in np.flatnonzero(members.spammer).tolist()],
        "group_kinds": {chat_id: KINDS[int(kind)] for chat_id, kind in zip(population.groups.chat_ids, population.groups.kinds, strict=True)},
    }  # fmt: skip
