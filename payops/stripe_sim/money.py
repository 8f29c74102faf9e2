"""Currencies Stripe accepts, their minimum charge amounts and how its messages print amounts."""

from __future__ import annotations

from payops.money import exponent

# Stripe's presentment currencies (https://docs.stripe.com/currencies), lowercase as the API wants them.
CURRENCIES = frozenset(
    """usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bif bmd bnd bob brl bsd bwp byn bzd cad cdf
    chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf gtq gyd hkd hnl htg huf
    idr ils inr isk jmd jpy kes kgs khr kmf krw kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr
    mwk mxn myr mzn nad ngn nio nok npr nzd pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd
    shp sle sos srd std szl thb tjs top try ttd twd tzs uah ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar
    zmw""".split()
)
# The project's one list of minor-unit exponents (Stripe's zero-decimal currencies).
ZERO_DECIMAL = frozenset(currency for currency in CURRENCIES if exponent(currency) == 0)

# Minimum charge amounts in minor units (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
# Other currencies need the equivalent of 0.50 USD, which needs exchange rates: not checked here.
MINIMUM_CHARGE = {
    "usd": 50,
    "aed": 200,
    "aud": 50,
    "bgn": 100,
    "brl": 50,
    "cad": 50,
    "chf": 50,
    "czk": 1500,
    "dkk": 250,
    "eur": 50,
    "gbp": 30,
    "hkd": 400,
    "huf": 17500,
    "inr": 50,
    "jpy": 50,
    "mxn": 1000,
    "myr": 200,
    "nok": 300,
    "nzd": 50,
    "pln": 200,
    "ron": 200,
    "sek": 300,
    "sgd": 50,
    "thb": 1000,
}
MAXIMUM_AMOUNT = 99_999_999  # eight digits, Stripe's cap for most currencies

_SYMBOLS = {
    "usd": "$",
    "cad": "$",
    "aud": "$",
    "nzd": "$",
    "sgd": "$",
    "hkd": "$",
    "mxn": "$",
    "gbp": "£",
    "eur": "€",
    "jpy": "¥",
    "inr": "₹",
}


def display(amount: int, currency: str) -> str:
    """How Stripe's messages print an amount: $0.50, £0.30, ¥50."""
    if currency in ZERO_DECIMAL:
        text = f"{amount:,}"
    else:
        text = f"{amount // 100:,}.{amount % 100:02d}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency.upper()}"


def processing_fee(amount: int, currency: str) -> int:
    """Stripe's standard US card pricing, 2.9% + 30 (in minor units; 30 becomes 0 for zero-decimal)."""
    fixed = 0 if currency in ZERO_DECIMAL else 30
    return round(amount * 0.029) + fixed


def dispute_fee(currency: str) -> int:
    """The US dispute fee, 15.00, taken in the charge's currency (no conversion is simulated)."""
    return 15 if currency in ZERO_DECIMAL else 1500
