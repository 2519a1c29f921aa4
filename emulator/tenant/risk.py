"""Identity Protection: risky users and risk detections derived from the planted risky sign-ins.

Every victim of a planted risky sign-in that succeeded, or that was single-factor, is still at
risk (``riskState: atRisk``); victims of the failed high-risk attempt reset their password
(``remediated``). Two more users were dismissed by an administrator long ago.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

from emulator.ids import format_ticks, iso
from emulator.odata.filter import parse_datetime_ticks
from emulator.tenant.base import GraphObject, TenantContext
from emulator.tenant.directory import People
from emulator.tenant.objects import random_guid
from emulator.tenant.plants import PlantPlan
from emulator.tenant.signins import PLANT_PROFILES, SignInLog

_LEVEL_ORDER = {"none": 0, "low": 1, "medium": 2, "high": 3}


@dataclass
class RiskData:
    risky_users: list[GraphObject] = field(default_factory=list)
    detections: list[GraphObject] = field(default_factory=list)


class RiskBuilder:
    def __init__(self, context: TenantContext, plan: PlantPlan, people: People, sign_ins: SignInLog) -> None:
        self.context = context
        self.plan = plan
        self.people = people
        self.sign_ins = sign_ins

    def build(self) -> RiskData:
        data = RiskData()
        users: dict[int, GraphObject] = {}
        rng = self.context.seeded.rng("risk")
        for index in sorted(self.plan.sign_in_plants):
            plant = self.plan.sign_in_plants[index]
            profile = PLANT_PROFILES[plant.kind]
            sign_in = self.sign_ins.sign_in(index)
            failed = profile.error is not None
            user = self._risky_user(
                plant.victim,
                level="none" if failed else profile.level,
                state="remediated" if failed else "atRisk",
                detail="userPerformedSecuredPasswordReset" if failed else "none",
                updated=sign_in["createdDateTime"],
            )
            previous = users.get(plant.victim)
            if previous is None or _LEVEL_ORDER[user["riskLevel"]] > _LEVEL_ORDER[previous["riskLevel"]]:
                users[plant.victim] = user
            for event_type in profile.event_types:
                data.detections.append(self._detection(rng, sign_in, event_type, profile.level, failed))
        for offset in (1, 2):
            victim = (max(users, default=0) + offset * 7) % self.context.scale.users
            if victim not in users:
                updated = iso(self.context.ago(days=200 + offset))
                users[victim] = self._risky_user(
                    victim,
                    level="none",
                    state="dismissed",
                    detail="adminDismissedAllRiskForUser",
                    updated=updated,
                )
        data.risky_users = [users[index] for index in sorted(users, key=lambda i: self.people.person(i).id)]
        data.detections.sort(key=lambda item: item["detectedDateTime"], reverse=True)
        return data

    def _risky_user(self, index: int, *, level: str, state: str, detail: str, updated: str) -> GraphObject:
        person = self.people.person(index)
        return {
            "id": person.id,
            "isDeleted": False,
            "isProcessing": False,
            "riskLastUpdatedDateTime": updated,
            "riskLevel": level,
            "riskState": state,
            "riskDetail": detail,
            "userDisplayName": person.display_name,
            "userPrincipalName": person.user_principal_name,
        }

    def _detection(
        self, rng: random.Random, sign_in: GraphObject, event_type: str, level: str, failed: bool
    ) -> GraphObject:
        detected = format_ticks(parse_datetime_ticks(sign_in["createdDateTime"]) + 1_250_000)
        agent = {"Key": "userAgent", "Value": sign_in["userAgent"]}
        return {
            "id": random_guid(rng).replace("-", "") + random_guid(rng).replace("-", "")[:32],
            "requestId": sign_in["id"],
            "correlationId": sign_in["correlationId"],
            "riskEventType": event_type,
            "riskState": "remediated" if failed else "atRisk",
            "riskLevel": level,
            "riskDetail": "userPerformedSecuredPasswordReset" if failed else "none",
            "source": "IdentityProtection",
            "detectionTimingType": "realtime",
            "activity": "signin",
            "tokenIssuerType": "AzureAD",
            "ipAddress": sign_in["ipAddress"],
            "location": sign_in["location"],
            "activityDateTime": sign_in["createdDateTime"],
            "detectedDateTime": detected,
            "lastUpdatedDateTime": detected,
            "userId": sign_in["userId"],
            "userDisplayName": sign_in["userDisplayName"],
            "userPrincipalName": sign_in["userPrincipalName"],
            "additionalInfo": json.dumps([agent], separators=(",", ":")),
        }
