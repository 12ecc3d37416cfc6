"""The demo organisation's names and logins, shared by seed_demo and the `make run` banner.

No Django import here: the runner reads this before Django is configured.
"""

SLUG = "demo"
NAME = "Relais Démo"
PASSWORD = "relais-demo-2026"  # noqa: S105 - the published demo login, seeded on a developer's machine
OPERATOR_EMAIL = "operator@relais.localhost"
ORGANISER_EMAIL = "organiser@demo.localhost"
COORDINATOR_EMAIL = "coordinator@demo.localhost"
MEMBER_EMAIL = "member@demo.localhost"
LOGISTICS_EMAIL = "logistics@demo.localhost"

LOGINS = [
    ("National organiser", ORGANISER_EMAIL),
    ("Coordinator (Lille)", COORDINATOR_EMAIL),
    ("Member (Lille)", MEMBER_EMAIL),
    ("Logistics (shop)", LOGISTICS_EMAIL),
]

# Regions and their local chapters: (name, slug, postcodes).
TREE = [
    (
        ("Hauts-de-France", "hauts-de-france", "59 62 80"),
        [("Lille", "lille", "59000 59800"), ("Roubaix", "roubaix", "59100"), ("Amiens", "amiens", "80000")],
    ),
    (
        ("Bretagne", "bretagne", "22 29 35 56"),
        [("Rennes", "rennes", "35000 35200"), ("Brest", "brest", "29200"), ("Quimper", "quimper", "29000")],
    ),
    (
        ("Occitanie", "occitanie", "31 34"),
        [("Toulouse", "toulouse", "31000 31500"), ("Montpellier", "montpellier", "34000")],
    ),
]

FIRST_NAMES = (
    "Camille", "Léa", "Manon", "Chloé", "Inès", "Jade", "Louise", "Emma", "Alice", "Lina", "Zoé", "Hélène",
    "Élodie", "Anaïs", "Maëlle", "Margaux", "Sarah", "Nadia", "Amina", "Fatou", "Lucas", "Hugo", "Louis",
    "Nathan", "Jules", "Gabriel", "Arthur", "Raphaël", "Théo", "Mathis", "Noé", "Karim", "Yanis", "Mehdi",
    "Bastien", "Étienne", "François", "Jérôme", "Loïc", "Grégoire", "Thérèse", "Agnès", "Benoît", "Cécile",
)  # fmt: skip
LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon",
    "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel",
    "Girard", "André", "Lefebvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez", "Legrand",
    "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas", "Perrin",
    "Morin", "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez", "Fontaine", "Chevalier", "Robin", "Benali",
    "Diallo", "Nguyen", "Le Gall", "Kerbrat",
)  # fmt: skip
SKILLS = (
    "graphisme", "rédaction", "premiers secours", "photographie", "vidéo", "comptabilité", "juridique",
    "traduction", "informatique", "cuisine",
)  # fmt: skip
INTERESTS = (
    "logement", "écologie", "santé", "éducation", "transports", "culture", "emploi", "agriculture", "féminisme",
    "numérique",
)  # fmt: skip
