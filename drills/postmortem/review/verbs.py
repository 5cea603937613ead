"""Does an action item start with what to do? Its first word judged as English, not by a list.

A hand-kept list of "allowed verbs" rejected every ordinary imperative it had not heard of
("Cap the reconnect back-off", "Pin aio-pika", "Throttle the re-drive"), and English verbs are an
open class, so no list of ours will ever be complete. The judgement here rests on a lexicon:
lemminflect's lemma table (derived from the NIH SPECIALIST Lexicon), which gives each known word
form its parts of speech and lemmas. It ships inside its wheel and needs no download; WordNet
(through nltk or wn) would, and an offline CI or the harness image cannot fetch it (pyproject.toml
says the same next to the dependency).

Three verdicts, so that the rule errs only where it is sure:

- ``VERB`` — the word has a base-form verb reading ("cap", "pin", "bound", "throttle"), is a
  hyphenated compound whose head is one ("rate-limit", "re-run"), a prefixed one ("backfill",
  "requeue"), an -ize/-ify coinage, or any word directly followed by an article or an object
  pronoun ("Shard the ledger": only a verb stands there).
- ``NOT_VERB`` — never an imperative: a closed-class word (determiner, pronoun, preposition,
  conjunction, modal), a number, an inflected verb form with no base-form reading ("Alerting",
  "Added", "Fixes" — the message names the imperative to write instead), an adverb ("Properly")
  or a compared adjective ("Faster").
- ``UNSURE`` — a word the lexicon knows only as a noun ("Dashboard") or a plain adjective ("New",
  "Inline"), a word it does not know at all ("Runbook"), or code: English turns nouns and
  adjectives into verbs freely, so these are warnings.

`known_word` lends the same lexicon to the blame rule (`language`): a sentence-initial word it
knows ("Monitoring missed ...") may be a system rather than a person.

The closed classes are listed here because they are closed: English does not grow determiners
or prepositions, and the lexicon files most of them under no part of speech at all.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    VERB = "verb"
    NOT_VERB = "not a verb"
    UNSURE = "unsure"


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    word: str  # the first word as written (without Markdown), "" when there is none
    why: str  # for the finding's message; "" for a verb


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_CLOSED_CLASSES = {
    "a determiner": (
        "a an the this that these those some any all each every no more most less least few "
        "fewer many several much both either neither another other such"
    ),
    "a pronoun": (
        "i we you they he she it us them me our ours your their its my his her someone "
        "somebody everyone everybody nobody anyone anybody something everything nothing"
    ),
    "a preposition": (
        "of for in on at to from by with about into onto via per during after before without "
        "within between across through against among towards toward until since upon"
    ),
    "a conjunction": "and or but nor if when whenever while because so although though unless",
    "a modal verb (say what to do, not what should happen)": (
        "should must shall will would could might may can cannot ought"
    ),
}
CLOSED_CLASS = {word: kind for kind, words in _CLOSED_CLASSES.items() for word in words.split()}
# An article or object pronoun right after a word makes that word a verb: "Shard the ledger".
_OBJECT_STARTS = _words(
    "the a an all every each its their our this that these those it them any both"
)
# Adverbs that stand before the imperative: "Never page on ...", "Also add ...", "First drain ...".
_BEFORE_THE_VERB = _words("never always only also then first don't dont")
# Verb-forming prefixes: a prefixed word unknown to the lexicon is a verb if its stem is one.
_PREFIXES = ("re", "pre", "de", "un", "back", "auto", "over", "under", "out", "up", "mis", "co")
_VERB_SUFFIX = re.compile(r"[a-z]{3,}(?:ize|ise|ify)")
_PARTICLES = _words("up down off out over in on back away through")
_POS_NAMES = {"ADJ": "an adjective", "ADV": "an adverb", "NOUN": "a noun", "PROPN": "a name"}

_LEADING_MARKUP = re.compile(r"^(?:[\s*_~>\[]|\\.)*")  # emphasis, links, escapes before the text
_PUNCTUATION = "*_~:;,.!?()[]{}<>\"\\'\u2019-\u2013\u2014"
_WORD = re.compile(r"[A-Za-z][A-Za-z'\u2019-]*|\d[\w.,:%/-]*|`[^`]*`?|\S+")


def first_word(title: str) -> tuple[str, str]:
    """(first word, next word) of an action item's title, Markdown emphasis and escapes removed.

    A code span comes back whole (with its backticks), so it is judged as code, not as English.
    """
    text = _LEADING_MARKUP.sub("", title)
    words = [
        word if word.startswith("`") else word.strip(_PUNCTUATION).replace("\u2019", "'")
        for word in _WORD.findall(text)
    ]
    words = [word for word in words if word]  # "**:" around a word is no word of its own
    return (words[0] if words else ""), (words[1] if len(words) > 1 else "")


def judge(title: str) -> Verdict:
    """Whether the title starts with an imperative verb, one is sure not to, or can't be told."""
    word, following = first_word(title)
    if word.lower() in _BEFORE_THE_VERB and following:
        return judge(title.split(maxsplit=1)[1])
    return _judge_word(word, following.lower())


def _judge_word(word: str, following: str) -> Verdict:
    return _by_form(word) or _by_lexicon(word, following)


def _by_form(word: str) -> Verdict | None:
    """What the word's shape alone settles: none, code, a number, a closed-class word."""
    if not word:
        return Verdict(Kind.NOT_VERB, "", "no words")
    if word.startswith("`"):
        return Verdict(Kind.UNSURE, word, "it is code; say what to do with it")
    if word[0].isdigit():
        return Verdict(Kind.NOT_VERB, word, "a number")
    if not word[0].isalpha():
        return Verdict(Kind.NOT_VERB, word, "not a word")
    if word.lower() in CLOSED_CLASS:
        return Verdict(Kind.NOT_VERB, word, CLOSED_CLASS[word.lower()])
    return None


def _by_lexicon(word: str, following: str) -> Verdict:
    """What the lexicon says of the word (and, for a noun or an unknown word, the next one)."""
    lower = word.lower()
    readings = _readings(lower)
    if _is_base_verb(lower, readings):
        return Verdict(Kind.VERB, word, "")
    lemmas = readings.get("VERB", ()) + readings.get("AUX", ())
    if lemmas:
        base = lemmas[0]
        why = f"a form of the verb '{base}': write the imperative '{base.capitalize()}'"
        return Verdict(Kind.NOT_VERB, word, why)
    # "Shard the ledger", "Inline the config": before an article or an object pronoun, any word
    # is a verb.
    derived = _compound_verb(lower) or (not readings and _derived_verb(lower))
    if derived or following in _OBJECT_STARTS:
        return Verdict(Kind.VERB, word, "")
    # Adverbs ("Properly") and compared adjectives ("Faster") are never turned into verbs; plain
    # adjectives are ("clean", "empty", "inline"), so those are only unsure.
    if readings and set(readings) <= {"ADJ", "ADV"} and lower not in readings.get("ADJ", ()):
        kinds = " and ".join(_POS_NAMES[pos] for pos in sorted(readings))
        return Verdict(Kind.NOT_VERB, word, f"{kinds} in the English lexicon, never a verb")
    if readings:
        known = " and ".join(_POS_NAMES.get(pos, pos) for pos in sorted(readings))
        return Verdict(Kind.UNSURE, word, f"the English lexicon knows it only as {known}")
    return Verdict(Kind.UNSURE, word, "it is not in the English lexicon")


def known_word(word: str) -> bool:
    """Whether the English lexicon knows `word` (lower case) as any part of speech."""
    return bool(_readings(word))


def _is_base_verb(word: str, readings: dict[str, tuple[str, ...]]) -> bool:
    return word in readings.get("VERB", ()) or word in readings.get("AUX", ())


def _compound_verb(word: str) -> bool:
    """A hyphenated compound headed by a verb: "rate-limit", "re-run", "dead-letter".

    English compounds take their part of speech from the last part; one ending in a particle
    ("follow-up", "back-off") is the noun, the verb is written apart ("follow up").
    """
    if "-" not in word:
        return False
    head = word.rsplit("-", 1)[1]
    return head not in _PARTICLES and _is_base_verb(head, _readings(head))


def _derived_verb(word: str) -> bool:
    """A word the lexicon lacks that English builds as a verb: a verb with a prefix ("backfill",
    "requeue", "dedupe") or an -ize/-ify coinage ("containerize")."""
    for prefix in _PREFIXES:
        stem = word.removeprefix(prefix)
        if stem != word and len(stem) >= 3 and _is_base_verb(stem, _readings(stem)):
            return True
    return bool(_VERB_SUFFIX.fullmatch(word))


@functools.cache
def _readings(word: str) -> dict[str, tuple[str, ...]]:
    """Part of speech (Universal Dependencies tag) → lemmas of `word`; empty for an unknown word.

    The lexicon (about 0.4 s to load) is read on the first call, never at import.
    """
    from lemminflect import Lemmatizer

    found = Lemmatizer().getAllLemmas(word)
    return {str(pos): tuple(str(lemma) for lemma in lemmas) for pos, lemmas in found.items()}
