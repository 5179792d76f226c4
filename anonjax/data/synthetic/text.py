"""Real-looking words for synthetic documents: sentences, names, addresses, dates and amounts."""

from __future__ import annotations

import numpy as np


def _vocabulary(text: str) -> tuple[str, ...]:
    """The whitespace-separated words of ``text``."""
    return tuple(text.split())


WORDS = _vocabulary("""
the of and to in for on with as by at from that this which be is are was were will would should can may
must have has had not all any each every other more most such only also very well new first last report
review meeting project budget account payment service product customer office department company board
committee member staff team management policy plan program study result data analysis method system
process quality control research development market sales price cost total amount order request approval
decision information document record file copy letter notice agreement contract schedule date period
year month week day time number address phone email reference subject following attached enclosed
regarding concerning please thank sincerely further questions contact provide receive send confirm
discuss consider include require support prepare complete continue increase reduce improve expect
estimate compare measure present submit review approve note inform annual quarterly monthly final
current previous proposed additional general special regional national international public private
important necessary available possible significant standard technical financial legal medical industrial
commercial chemical tobacco product testing sample samples level levels effect effects response test
tests group groups sample brand brands consumer consumers smoke filter paper package packages design
label labels print printing advertising campaign media radio television newspaper magazine store stores
retail distribution shipment delivery invoice invoices statement balance credit debit tax fee fees rate
rates unit units quantity description item items
""")

FIRST_NAMES = _vocabulary("""
james mary john patricia robert jennifer michael linda william elizabeth david barbara richard susan
joseph jessica thomas sarah charles karen daniel nancy matthew lisa anthony betty mark margaret paul
sandra steven ashley andrew kimberly joshua emily kenneth donna kevin michelle brian carol george amanda
anna lukas sofia jonas elena felix clara noah mila leon emma paula oskar lena hugo ida
""")

LAST_NAMES = _vocabulary("""
smith johnson williams brown jones miller davis garcia rodriguez wilson martinez anderson taylor thomas
moore jackson martin lee thompson white harris clark lewis robinson walker young allen king wright scott
green baker adams nelson hill campbell mitchell roberts carter phillips evans turner parker collins
edwards stewart morris murphy cook rogers morgan cooper peterson bailey reed kelly howard cox ward
mueller schmidt schneider fischer weber meyer wagner becker schulz hoffmann koch richter klein wolf
""")

CITIES = _vocabulary("""
springfield riverton fairview georgetown salem madison franklin clinton arlington ashland burlington
manchester oxford milton newport dover hudson kingston lexington marion
""")

STREETS = _vocabulary("""
main oak pine maple cedar elm washington lake hill park river church market high mill
""")
STREET_KINDS = ("Street", "Avenue", "Road", "Lane", "Drive", "Boulevard")
COMPANIES = ("Industries", "Corporation", "Group", "Associates", "Laboratories", "Holdings", "Systems")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")


def pick(rng: np.random.Generator, options) -> str:
    """One element of ``options``."""
    return options[int(rng.integers(len(options)))]


def words(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` random vocabulary words."""
    return [WORDS[i] for i in rng.integers(len(WORDS), size=n)]


def sentence(rng: np.random.Generator, low: int = 6, high: int = 14) -> str:
    """A capitalised sentence of ``low`` to ``high`` words ending in a full stop."""
    text = " ".join(words(rng, int(rng.integers(low, high + 1))))
    return text[0].upper() + text[1:] + "."


def paragraph(rng: np.random.Generator, sentences: int) -> str:
    """``sentences`` sentences joined by spaces."""
    return " ".join(sentence(rng) for _ in range(sentences))


def title(rng: np.random.Generator, n: int) -> str:
    """``n`` words in title case."""
    return " ".join(w.capitalize() for w in words(rng, n))


def person(rng: np.random.Generator) -> tuple[str, str]:
    """(first name, last name), capitalised."""
    return pick(rng, FIRST_NAMES).capitalize(), pick(rng, LAST_NAMES).capitalize()


def full_name(rng: np.random.Generator) -> str:
    """"First Last"."""
    return " ".join(person(rng))


def company(rng: np.random.Generator) -> str:
    """A company name such as "Walker Laboratories"."""
    return f"{pick(rng, LAST_NAMES).capitalize()} {pick(rng, COMPANIES)}"


def address(rng: np.random.Generator) -> list[str]:
    """Two address lines: street and city with postal code."""
    street = f"{int(rng.integers(1, 999))} {pick(rng, STREETS).capitalize()} {pick(rng, STREET_KINDS)}"
    city = f"{pick(rng, CITIES).capitalize()} {int(rng.integers(10000, 99999))}"
    return [street, city]


def date(rng: np.random.Generator) -> str:
    """A date such as "March 14, 1998"."""
    return f"{pick(rng, MONTHS)} {int(rng.integers(1, 29))}, {int(rng.integers(1985, 2025))}"


def amount(rng: np.random.Generator, high: float = 5000.0) -> str:
    """A money amount such as "1,234.50"."""
    return f"{rng.uniform(1.0, high):,.2f}"


def phone(rng: np.random.Generator) -> str:
    """A phone number such as "(555) 123-4567"."""
    return f"({int(rng.integers(200, 999))}) {int(rng.integers(200, 999))}-{int(rng.integers(1000, 9999))}"
