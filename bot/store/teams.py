"""The teams table, kept in step with the teams of knowledge/areas.yml (the one place teams are defined)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import Team
from knowledge.model import Knowledge


def sync_teams(session: Session, knowledge: Knowledge) -> list[Team]:
    """Adds the teams areas.yml has and the table lacks, and takes over their names; returns every team.

    Never deletes: staff accounts and handovers refer to a team, and a team that left areas.yml may still
    have handovers to finish. A mailbox from areas.yml fills an empty one; one an admin set is kept.
    """
    for team_id, team in knowledge.teams.items():
        row = session.get(Team, team_id)
        if row is None:
            session.add(Team(id=team_id, name=team.name, mailbox=team.mailbox))
            continue
        if row.name != team.name:
            row.name = team.name
        if row.mailbox is None and team.mailbox:
            row.mailbox = team.mailbox
    session.flush()
    return list(session.scalars(select(Team).order_by(Team.id)))
