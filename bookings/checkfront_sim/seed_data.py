"""The seeded account's catalogue and the word lists seeded customers and notes are drawn from."""

from __future__ import annotations

from typing import Any

CATEGORIES: list[dict[str, Any]] = [
    {"category_id": 1, "name": "Tours", "description": "Guided tours on land and water.", "pos": 20},
    {"category_id": 2, "name": "Activities", "description": "Half-day adventures.", "pos": 19},
    {"category_id": 3, "name": "Rentals", "description": "Bikes, boards and gear by the day.", "pos": 18},
    {"category_id": 4, "name": "Lessons", "description": "Small-group coaching.", "pos": 17},
    {"category_id": 5, "name": "Events", "description": "Festivals and special evenings.", "pos": 16},
]

_PEOPLE = [["adults", "Adults"], ["children", "Children"]]

# (name, category_id, CAD price in cents, stock per day, unit H|D, length, params)
_ITEMS: list[tuple[str, int, int, int, str, int, list[list[str]]]] = [
    ("Harbour Kayak Tour", 1, 8900, 24, "H", 3, _PEOPLE),
    ("Whale Watching Cruise", 1, 14900, 60, "H", 4, _PEOPLE),
    ("Rainforest Hike", 1, 6500, 16, "H", 5, _PEOPLE),
    ("Food & Brewery Walk", 1, 7900, 14, "H", 3, [["adults", "Adults"]]),
    ("Sunset Sail", 1, 11900, 20, "H", 2, _PEOPLE),
    ("Zipline Canopy", 2, 9900, 30, "H", 2, _PEOPLE),
    ("Paddleboard Session", 2, 4500, 18, "H", 2, [["boards", "Boards"]]),
    ("Rock Climbing Intro", 2, 12500, 8, "H", 4, [["climbers", "Climbers"]]),
    ("Snorkel Adventure", 2, 8500, 22, "H", 3, _PEOPLE),
    ("Mountain Bike Rental", 3, 5500, 25, "D", 1, [["bikes", "Bikes"]]),
    ("Paddleboard Rental", 3, 4000, 15, "D", 1, [["boards", "Boards"]]),
    ("Camping Gear Kit", 3, 7500, 0, "D", 2, [["kits", "Kits"]]),
    ("Surf Lesson", 4, 9500, 10, "H", 2, [["students", "Students"]]),
    ("Kayak Skills Clinic", 4, 11000, 8, "H", 4, [["students", "Students"]]),
    ("Lantern Festival Pass", 5, 3500, 200, "H", 5, _PEOPLE),
    ("Chef's Table Evening", 5, 18500, 12, "H", 3, [["guests", "Guests"]]),
]


def catalogue_items() -> list[dict[str, Any]]:
    items = []
    for item_id, (name, category_id, price, stock, unit, length, params) in enumerate(_ITEMS, start=1):
        sku = "".join(ch for ch in name.lower() if ch.isalnum())
        items.append(
            {
                "item_id": item_id,
                "sku": sku,
                "name": name,
                "category_id": category_id,
                "price_minor": price,
                "stock": stock,
                # Stock 0 here means "no limit", as Checkfront's unlimited flag.
                "unlimited": 1 if stock == 0 else 0,
                "unit": unit,
                "length": length,
                "params": params,
                "summary": f"<p>{name}: book online, pay a deposit or in full.</p>",
            }
        )
    return items


FIRST_NAMES = (
    "Olivia Liam Emma Noah Ava Oliver Sophia Elijah Isabella Lucas Mia Mason Amelia Ethan Harper Logan "
    "Evelyn James Abigail Benjamin Chloe Jacob Aiko Hiroshi Priya Arjun Mei Wei Fatima Omar Sofia Mateo "
    "Lena Jonas Camille Louis Zoe Finn Ingrid Lars Aroha Nikau Chiara Luca Ana Diego Nadia Tomasz Siobhan Connor"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Wilson Anderson Taylor Thomas "
    "Moore Martin Lee Thompson White Harris Clark Lewis Walker Young King Wright Tanaka Suzuki Patel Singh "
    "Chen Wang Nguyen Kim Park Müller Schmidt Dubois Lefebvre Rossi Bianchi Kowalski Novak O'Brien Murphy "
    "MacDonald Tremblay Gagnon Roy Côté Hansen Jensen"
).split()

# (domain, weight); a few business domains so not everyone is on webmail.
EMAIL_DOMAINS = [
    ("gmail.com", 34),
    ("yahoo.com", 8),
    ("outlook.com", 8),
    ("hotmail.com", 6),
    ("icloud.com", 7),
    ("proton.me", 2),
    ("shaw.ca", 4),
    ("telus.net", 3),
    ("sympatico.ca", 2),
    ("web.de", 2),
    ("gmx.de", 2),
    ("orange.fr", 2),
    ("btinternet.com", 2),
    ("bigpond.com", 2),
    ("yahoo.co.jp", 2),
    ("northwind-traders.com", 2),
    ("acme-logistics.io", 1),
    ("example.org", 1),
]

# country: (weight, dialling prefix, [(region, city, postal pattern)]); "#" a digit, "@" a letter.
COUNTRIES: dict[str, tuple[int, str, list[tuple[str, str, str]]]] = {
    "CA": (
        40,
        "+1",
        [
            ("BC", "Vancouver", "V6B #@#"),
            ("BC", "Victoria", "V8W #@#"),
            ("AB", "Calgary", "T2P #@#"),
            ("ON", "Toronto", "M5V #@#"),
            ("QC", "Montréal", "H2Y #@#"),
        ],
    ),
    "US": (
        25,
        "+1",
        [
            ("WA", "Seattle", "981##"),
            ("CA", "San Francisco", "941##"),
            ("NY", "New York", "100##"),
            ("TX", "Austin", "787##"),
            ("OR", "Portland", "972##"),
        ],
    ),
    "GB": (8, "+44", [("ENG", "London", "SW1A #@@"), ("SCT", "Edinburgh", "EH1 #@@")]),
    "DE": (6, "+49", [("BE", "Berlin", "101##"), ("BY", "München", "803##")]),
    "FR": (5, "+33", [("IDF", "Paris", "750##"), ("ARA", "Lyon", "690##")]),
    "AU": (6, "+61", [("NSW", "Sydney", "2###"), ("VIC", "Melbourne", "3###")]),
    "JP": (4, "+81", [("13", "Tokyo", "1##-####"), ("27", "Osaka", "5##-####")]),
    "MX": (3, "+52", [("CMX", "Ciudad de México", "06###"), ("JAL", "Guadalajara", "44###")]),
    "NL": (3, "+31", [("NH", "Amsterdam", "10## @@")]),
}

STREETS = (
    "Richards Street|Harbour Road|Maple Avenue|King Street West|Rue Sainte-Catherine|Baker Street|Hauptstraße|"
    "Rue de Rivoli|George Street|Elm Street|Queen Street|Ocean View Drive|Calle Reforma|Prinsengracht"
).split("|")

HOTELS = ["Fairmont Waterfront", "Pan Pacific", "Hotel Georgia", "Sandman Suites", "Hostel on Robson", "Rosewood"]
DIETARY = ["vegetarian", "vegan", "gluten free", "nut allergy", "none"]
TRACKING_IDS = ["google-ads", "newsletter-spring", "tripadvisor", "partner-hotel", "instagram"]
CUSTOMER_NOTES = [
    "Celebrating our anniversary!",
    "Vegetarian lunch please.",
    "One of us gets seasick - any tips?",
    "Can we bring our own camera gear?",
    "Arriving by ferry, may be 10 minutes late.",
    "First time doing this, a bit nervous.",
]
STAFF_NOTES = [
    "Called customer to confirm pickup time.",
    "Customer asked to move to the afternoon slot.",
    "Deposit received by phone.",
    "Refund approved by manager.",
    "Weather watch: may reschedule.",
    "Sent waiver forms by email.",
    "Customer requested invoice in company name.",
    "Chargeback risk flagged by card issuer.",
]
