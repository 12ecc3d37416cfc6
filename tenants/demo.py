"""The demo organisation's names and logins, shared by seed_demo and the `make run` banner.

No Django import here: the runner reads this before Django is configured.
"""

SLUG = "demo"
NAME = "Relais Démo"
PASSWORD = "relais-demo-2026"  # noqa: S105 - the published demo login, seeded on a developer's machine
OPERATOR_EMAIL = "operator@relais.localhost"
ORGANISER_EMAIL = "organiser@demo.localhost"
MEMBER_EMAIL = "member@demo.localhost"

LOGINS = [
    ("National organiser", ORGANISER_EMAIL),
    ("Member", MEMBER_EMAIL),
]
