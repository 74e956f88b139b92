"""Language and region of an inbound message.

Language: the platform's own tag first (normalised to ISO 639-1, "en-GB" → "en"); else lingua,
restricted to the configured languages and built lazily once per process (the detector and its
models are shared by every LanguageGuesser with the same configuration). Texts that are too short
once @handles, #tags and URLs are stripped stay unknown (None), and so do texts where lingua's two
best candidates are too close to call (a wrong language is worse than an unknown one: it would
pick the wrong canned response and the wrong sentiment).

Region: from the author's profile location when it names a known country, major city, US state,
UK nation or Canadian province (a compact built-in table, case-insensitive, accents folded; a flag
emoji counts too). Otherwise a guess from the language only where one language means one country
in practice (ja → JP, ko → KR). German could be DE/AT/CH, English anything, Spanish twenty
countries, Portuguese PT or BR: those give None rather than a confident wrong answer.

Pure: no I/O beyond lingua loading its own models from its package data.
"""

from __future__ import annotations

import functools

import re
import threading
import unicodedata
from collections.abc import Mapping, Sequence

__all__ = ["LanguageGuesser", "normalise_tag", "region", "DEFAULT_LANGUAGES", "DEFAULT_LANGUAGE_REGIONS"]

DEFAULT_LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "pt", "it", "nl", "ja")

# Only this much of a text goes to the detector: the language of a 100 KB post is the language of
# its first few paragraphs, and lingua's time grows with the length.
MAX_DETECT_CHARS = 1_000

# ---------------------------------------------------------------------------------------------
# Platform tags

# Deprecated or bibliographic codes some platforms still send.
_TAG_ALIASES = {
    "iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro",
    "eng": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es", "por": "pt",
    "ita": "it", "nld": "nl", "dut": "nl", "jpn": "ja", "zho": "zh", "chi": "zh", "kor": "ko",
    "rus": "ru", "ara": "ar", "tur": "tr", "pol": "pl", "swe": "sv", "dan": "da", "nor": "no",
    "nob": "nb", "fin": "fi", "ell": "el", "gre": "el", "heb": "he", "hin": "hi", "ukr": "uk",
    "ces": "cs", "cze": "cs", "ron": "ro", "rum": "ro", "hun": "hu", "cat": "ca", "ind": "id",
    "vie": "vi", "tha": "th", "msa": "ms", "may": "ms", "fil": "tl", "tgl": "tl",
}


def normalise_tag(tag: object) -> str | None:
    """See _normalise_tag; anything but a string names no language."""
    return _normalise_tag(tag) if isinstance(tag, str) else None


@functools.lru_cache(maxsize=512)  # platforms send a handful of distinct tags
def _normalise_tag(tag: str | None) -> str | None:
    """A platform language tag as ISO 639-1 lower case, or None when it names no language.

    "en-GB" → "en", "pt_BR" → "pt", "ZH-Hant" → "zh", "eng" → "en"; "und", "zxx", "mul" and X's
    pseudo-tags ("qme" media only, "qht" hashtags only, "qam", "qct", "qst") → None."""
    if not tag or not isinstance(tag, str):
        return None
    primary = re.split(r"[-_\s.@]", tag.strip(), maxsplit=1)[0].lower()
    if not primary.isascii() or not primary.isalpha():
        return None
    if primary in _TAG_ALIASES:
        return _TAG_ALIASES[primary]
    if len(primary) == 2:
        return primary
    return None


# ---------------------------------------------------------------------------------------------
# Cleaning and measuring a text

_STRIP = re.compile(
    r"(?:https?://|www\.)\S+"  # URLs
    r"|(?<![\w@])@[\w.\-]+(?:@[\w.\-]+)?"  # @handle, @user@instance.social
    r"|(?<![\w#])[#＃]\w+"  # #hashtag
    r"|\$[A-Za-z]{1,6}\b",  # $CASHTAG
    re.UNICODE,
)
_SPACES = re.compile(r"\s+")


def _clean(text: str) -> str:
    text = _STRIP.sub(" ", text[: MAX_DETECT_CHARS * 4])
    # Control and format characters (RTL overrides, zero-width joiners) and combining marks
    # piled up as zalgo carry no language; drop runs of more than two combining marks.
    out = []
    marks = 0
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Cs", "Co"):
            out.append(" " if ch in "\t\n\r" else "")
            marks = 0
            continue
        if cat == "Mn":
            marks += 1
            if marks > 2:
                continue
        else:
            marks = 0
        out.append(ch)
    cleaned = "".join(out)
    if marks_total := sum(1 for ch in cleaned if unicodedata.category(ch) == "Mn"):
        if marks_total * 2 > sum(1 for ch in cleaned if ch.isalpha()):  # zalgo: marks are noise
            cleaned = "".join(ch for ch in cleaned if unicodedata.category(ch) != "Mn")
    return _SPACES.sub(" ", cleaned).strip()[:MAX_DETECT_CHARS]


def _weighted_length(text: str) -> int:
    """Characters that carry language: letters count 1, wide (CJK, kana, full-width) letters
    count 2, as X counts them — a Japanese sentence says in 12 characters what English says in
    24. Digits, punctuation, symbols and emoji count 0."""
    n = 0
    for ch in text:
        if ch.isalpha():
            n += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        elif ch == " ":
            n += 1
    return n


# ---------------------------------------------------------------------------------------------
# The detector, built once per configuration and process

_DETECTORS: dict[tuple[tuple[str, ...], bool], object] = {}
_DETECTORS_LOCK = threading.Lock()


def _detector(codes: tuple[str, ...], low_accuracy: bool):
    key = (codes, low_accuracy)
    found = _DETECTORS.get(key)
    if found is not None:
        return found
    with _DETECTORS_LOCK:
        found = _DETECTORS.get(key)
        if found is None:
            from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

            languages = [Language.from_iso_code_639_1(IsoCode639_1.from_str(c.upper())) for c in codes]
            builder = LanguageDetectorBuilder.from_languages(*languages)
            if low_accuracy:
                builder = builder.with_low_accuracy_mode()
            # Preloading moves the model load (about 1 s in high-accuracy mode, 0.05 s in low)
            # to the first detect() call, where a daemon pays it once, instead of spreading it
            # over the first messages of each language.
            found = builder.with_preloaded_language_models().build()
            _DETECTORS[key] = found
    return found


# ---------------------------------------------------------------------------------------------
# Regions

def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


# Region code: names, comma separated, as a person would write them in a profile location.
# Entries mapping to "-" block a shorter name inside them ("south america" is not the US).
_REGION_TABLE = """
GB: united kingdom, uk, u k, great britain, britain, england, scotland, wales, northern ireland,
    cymru, london, manchester, liverpool, leeds, glasgow, edinburgh, bristol, cardiff, belfast,
    sheffield, nottingham, brighton, oxford, cambridge, leicester, aberdeen, southampton
US: united states, united states of america, usa, u s a, u s, america, new york, new york city,
    nyc, brooklyn, manhattan, los angeles, chicago, houston, phoenix, philadelphia, san francisco,
    seattle, boston, miami, atlanta, dallas, austin, denver, las vegas, washington dc,
    washington d c, detroit, portland, san diego, minneapolis, nashville, new orleans, new england,
    alabama, alaska, arizona, arkansas, california, colorado, connecticut, delaware, florida,
    hawaii, idaho, illinois, indiana, iowa, kansas, kentucky, louisiana, maine, maryland,
    massachusetts, michigan, minnesota, mississippi, missouri, montana, nebraska, nevada,
    new hampshire, new jersey, new mexico, north carolina, north dakota, ohio, oklahoma, oregon,
    pennsylvania, rhode island, south carolina, south dakota, tennessee, texas, utah, vermont,
    virginia, west virginia, washington, washington state, wisconsin, wyoming, puerto rico
DE: germany, deutschland, allemagne, alemania, alemanha, germania, duitsland, berlin, hamburg,
    munich, munchen, muenchen, koln, cologne, frankfurt, stuttgart, dusseldorf, leipzig, dresden,
    bremen, hannover, nurnberg, nuremberg
FR: france, francia, frankreich, franca, paris, lyon, marseille, toulouse, bordeaux, lille, nantes,
    strasbourg, montpellier, rennes
ES: spain, espana, espagne, spanien, spagna, espanha, madrid, barcelona, valencia, sevilla,
    seville, bilbao, malaga, zaragoza, catalunya, cataluna, andalucia
BR: brazil, brasil, bresil, brasilien, sao paulo, rio de janeiro, brasilia, belo horizonte, recife,
    porto alegre, curitiba, fortaleza, manaus
JP: japan, nihon, nippon, japon, japao, giappone, tokyo, osaka, kyoto, yokohama, nagoya, sapporo,
    fukuoka, 日本, 東京, 大阪, 京都, 横浜, 名古屋, 札幌, 福岡, 北海道, 沖縄
IT: italy, italia, italie, italien, rome, roma, milan, milano, naples, napoli, turin, torino,
    florence, firenze, bologna, venice, venezia
NL: netherlands, the netherlands, holland, nederland, pays bas, paises bajos, amsterdam,
    rotterdam, the hague, den haag, utrecht, eindhoven, groningen
BE: belgium, belgique, belgie, belgien, belgica, brussels, bruxelles, brussel, antwerp, antwerpen,
    ghent, gent, liege
PT: portugal, lisbon, lisboa, porto
IE: ireland, eire, republic of ireland, dublin, cork, galway
CA: canada, toronto, montreal, vancouver, ottawa, calgary, edmonton, ontario, quebec,
    british columbia, alberta, nova scotia, manitoba
AU: australia, sydney, melbourne, brisbane, perth, adelaide, new south wales, queensland
NZ: new zealand, aotearoa, auckland, wellington
AT: austria, osterreich, oesterreich, autriche, vienna, wien, salzburg, graz
CH: switzerland, schweiz, suisse, svizzera, suiza, zurich, geneva, geneve, genf, bern, basel,
    lausanne
SE: sweden, sverige, stockholm, gothenburg, goteborg
NO: norway, norge, oslo
DK: denmark, danmark, copenhagen, kobenhavn
FI: finland, suomi, helsinki
PL: poland, polska, warsaw, warszawa, krakow
CZ: czech republic, czechia, cesko, prague, praha
GR: greece, hellas, ellada, athens
TR: turkey, turkiye, istanbul, ankara
RU: russia, moscow, россия, москва
UA: ukraine, ukraina, kyiv, kiev, україна
IN: india, bharat, mumbai, delhi, new delhi, bangalore, bengaluru, chennai, hyderabad, kolkata
PK: pakistan, karachi, lahore
CN: china, beijing, shanghai, shenzhen, 中国
HK: hong kong
TW: taiwan, taipei
KR: south korea, korea, seoul, busan, 한국, 대한민국, 서울
SG: singapore
MY: malaysia, kuala lumpur
ID: indonesia, jakarta
PH: philippines, manila
TH: thailand, bangkok
VN: vietnam, viet nam
AE: uae, united arab emirates, dubai, abu dhabi
SA: saudi arabia, ksa, riyadh
IL: israel, tel aviv
EG: egypt, cairo
NG: nigeria, lagos, abuja
KE: kenya, nairobi
ZA: south africa, johannesburg, cape town
MA: morocco, maroc, marrakech, casablanca
MX: mexico, ciudad de mexico, cdmx, guadalajara, monterrey
AR: argentina, buenos aires
CL: chile
CO: colombia, bogota, medellin
PE: peru, lima
VE: venezuela, caracas
HU: hungary, magyarorszag, budapest
RO: romania, bucharest, bucuresti
LU: luxembourg
HR: croatia, hrvatska, zagreb
RS: serbia, belgrade
BG: bulgaria
SK: slovakia
SI: slovenia, ljubljana
EE: estonia, tallinn
LV: latvia, riga
LT: lithuania, vilnius
IS: iceland, reykjavik
CY: cyprus
MT: malta
QA: qatar, doha
UY: uruguay, montevideo
EC: ecuador, quito
CR: costa rica
-: south america, latin america, central america, north america
"""


def _parse_table(raw: str) -> tuple[dict[str, str | None], dict[str, str]]:
    words: dict[str, str | None] = {}
    scripts: dict[str, str] = {}  # names in scripts without spaces between words: substring match
    for block in re.split(r"\n(?=\S)", raw.strip()):
        code, _, names = block.partition(":")
        region = None if code.strip() == "-" else code.strip()
        for name in names.split(","):
            name = " ".join(name.split())
            if not name:
                continue
            if all(ord(ch) > 0x2E7F for ch in name):  # CJK, kana, hangul
                scripts[name] = region or ""
            else:
                words[" ".join(_fold(w) for w in name.split())] = region
    return words, scripts


_REGION_WORDS, _REGION_SCRIPTS = _parse_table(_REGION_TABLE)
_LONGEST_NAME = max(len(k.split()) for k in _REGION_WORDS)
_COUNTRY_CODES = frozenset(v for v in _REGION_WORDS.values() if v) | {"UK"}

_US_STATE_CODES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY".split()
)
# "Fresno, CA" is California, "Toronto, CA" is Canada: a code that is both a US state and a
# country in the table is the country only when the rest of the location says that country.
_AMBIGUOUS_CODES = _US_STATE_CODES & _COUNTRY_CODES

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_PART = re.compile(r"[^,/|;·•()\[\]]+")
_FLAG = re.compile("([\U0001F1E6-\U0001F1FF])([\U0001F1E6-\U0001F1FF])")
_SUBDIVISION_FLAG = re.compile("\U0001F3F4([\U000E0061-\U000E007A]{2})[\U000E0061-\U000E007A]+\U000E007F")

DEFAULT_LANGUAGE_REGIONS: Mapping[str, str] = {"ja": "JP", "ko": "KR"}


def _region_from_words(location: str) -> tuple[int, str | None]:
    """The rightmost place named in the text (country usually comes last: "Paris, Texas"),
    the longest name first at each position ("northern ireland" before "ireland").
    Returns (position of the match's end in the text, region) or (-1, None)."""
    tokens = [(m.end(), _fold(m.group())) for m in _TOKEN.finditer(location)]
    best: tuple[int, str | None] = (-1, None)
    end = len(tokens) - 1
    while end >= 0:
        for size in range(min(_LONGEST_NAME, end + 1), 0, -1):
            gram = " ".join(t for _, t in tokens[end - size + 1 : end + 1])
            if gram in _REGION_WORDS:
                region = _REGION_WORDS[gram]
                if region is not None:
                    best = (tokens[end][0], region)
                    break
                end -= size - 1  # a blocker: skip its words
                break
        if best[1] is not None:
            break
        end -= 1
    for name, region in _REGION_SCRIPTS.items():
        at = location.rfind(name)
        if at >= 0 and region and at + len(name) > best[0]:
            best = (at + len(name), region)
    return best


def _region_from_location(location: str) -> str | None:
    location = location[:300]
    word_end, word_region = _region_from_words(location)
    code_region: str | None = None
    code_end = -1
    if not location.isupper():  # "I LIVE IN LA" is shouting, not codes
        # A two-letter code counts only as a part of its own ("Fresno, CA", "Berlin / DE"):
        # inside a sentence "OK", "HI", "IT" and "IN" are words.
        for m in _PART.finditer(location):
            code = m.group().strip()
            if len(code) != 2 or not code.isascii() or not code.isupper():
                continue
            if code in _AMBIGUOUS_CODES:
                rest = location[: m.start()] + location[m.end():]
                region = code if _region_from_words(rest)[1] == code else "US"
            elif code in _US_STATE_CODES:
                region = "US"
            elif code in _COUNTRY_CODES:
                region = "GB" if code == "UK" else code
            else:
                continue
            code_end, code_region = m.end(), region
    if code_region and code_end > word_end:
        return code_region
    if word_region:
        return word_region
    flag = _FLAG.search(location)
    if flag:
        code = "".join(chr(ord(ch) - 0x1F1E6 + ord("A")) for ch in flag.groups())
        return "GB" if code == "UK" else code
    sub = _SUBDIVISION_FLAG.search(location)  # 🏴 England / Scotland / Wales
    if sub:
        return "".join(chr(ord(ch) - 0xE0061 + ord("A")) for ch in sub.group(1))
    return None


# ---------------------------------------------------------------------------------------------


class LanguageGuesser:
    """detect(text, platform_tag) → ISO 639-1 code or None; region(location, language) → region.

    languages: the languages the detector may answer (ISO 639-1); restricting it is what makes
    lingua accurate on short posts. min_chars: shorter texts (after stripping @handles, #tags,
    URLs; wide CJK characters count 2) are unknown. min_margin: when lingua's best two
    candidates are closer than this (confidence values 0..1), the language is unknown.
    low_accuracy: lingua's trigram-only mode — loads in 0.05 s instead of ~1 s and detects
    about twice as fast, a little less reliable on short texts and far more confident when
    wrong (so min_margin barely helps in that mode)."""

    def __init__(
        self,
        languages: Sequence[str] = DEFAULT_LANGUAGES,
        min_chars: int = 20,
        *,
        min_margin: float = 0.05,
        low_accuracy: bool = False,
        language_regions: Mapping[str, str] | None = None,
    ) -> None:
        codes = []
        for code in languages:
            norm = normalise_tag(code)
            if norm is None:
                raise ValueError(f"not an ISO 639-1 language code: {code!r}")
            try:
                from lingua import IsoCode639_1, Language

                Language.from_iso_code_639_1(IsoCode639_1.from_str(norm.upper()))
            except ValueError:
                raise ValueError(f"language {code!r} is not one the detector knows") from None
            if norm not in codes:
                codes.append(norm)
        if not codes:
            raise ValueError("at least one language is needed")
        self.languages: tuple[str, ...] = tuple(sorted(codes))
        self.min_chars = min_chars
        self.min_margin = min_margin
        self.low_accuracy = low_accuracy
        self.language_regions: Mapping[str, str] = dict(
            DEFAULT_LANGUAGE_REGIONS if language_regions is None else language_regions
        )

    def warm_up(self) -> None:
        """Load the models now (a daemon calls this at start; otherwise the first detect does)."""
        _detector(self.languages, self.low_accuracy)

    def detect(self, text: str, platform_tag: str | None = None) -> str | None:
        tag = normalise_tag(platform_tag)
        if tag is not None:
            return tag
        if not text or not isinstance(text, str):
            return None
        try:
            cleaned = _clean(text)
            if _weighted_length(cleaned) < self.min_chars:
                return None
            values = _detector(self.languages, self.low_accuracy).compute_language_confidence_values(cleaned)
        except Exception:  # a rule never crashes on hostile text: unknown instead
            return None
        if not values or values[0].value <= 0.0:
            return None
        if len(values) > 1 and values[0].value - values[1].value < self.min_margin:
            return None
        return values[0].language.iso_code_639_1.name.lower()

    def region(self, location: str | None, language: str | None = None) -> str | None:
        return region(location, language, language_regions=self.language_regions)


def region(location: str | None, language: str | None = None, *,
           language_regions: Mapping[str, str] = DEFAULT_LANGUAGE_REGIONS) -> str | None:
    """Region code ("GB", "US", "DE", …) from a profile location, else from the language only
    where it is unambiguous (ja → JP, ko → KR), else None. Needs no detector."""
    if location and isinstance(location, str):
        try:
            found = _region_from_location(location)
        except Exception:  # hostile text: no region rather than a crash
            found = None
        if found:
            return found
    lang = normalise_tag(language)
    return language_regions.get(lang) if lang else None
