"""The teams table, kept in step with the teams of knowledge/areas.yml (the one place teams are defined)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import Team
from knowledge.model import Knowledge


def sync_teams(session: Session, knowledge: Knowledge) -> list[Team]:
    """Adds the teams areas.yml has and the table lacks, and takes over their names; returns every team.

    Never deletes: staff accounts and handovers refer to a team, and a team that left areas.yml may still
    have handovers to finish. The mailbox is not in areas.yml and is left as it is.
    """
    for team_id, team in knowledge.teams.items():
        row = session.get(Team, team_id)
        if row is None:
            session.add(Team(id=team_id, name=team.name))
        elif row.name != team.name:
            row.name = team.name
    session.flush()
    return list(session.scalars(select(Team).order_by(Team.id)))
