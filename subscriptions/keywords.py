"""The citizen keyword grammar: an SMS text → the Command it asks for (SPEC "Citizen keywords").

Every answer is precomputed into dicts when the parser is built (the catalogue changes rarely,
MOs arrive by the thousand per second): parse() is a normalise() and one or two dict look-ups;
only a text that means nothing pays for the near-miss search.

Rules, in order (texts are normalised first, so case, accents, spaces and punctuation do not
matter):
1. the whole text is a command: HEALTH, JOIN HEALTH, STOP HEALTH, STOP, START, LANG ES, …;
2. its first two words leave a service (STOP HEALTH NOW): LEAVE, or STOP_ALL if another
   service is named after it (STOP HEALTH WEATHER);
3. an unambiguous opt-out word appears anywhere ("please stop", "JOIN HEALTH STOP"), or the
   text spells one out (S.T.O.P): STOP_ALL;
   Except after an ask word and a service (ASK HEALTH how do I stop mosquitoes?): a question;
4. a join followed by a district's name (JOIN HURRICANE TOLEDO, HURACAN STANN CREEK): a JOIN
   that also says where they live; else its first two words are another command (JOIN
   HEALTH PLEASE, LANG ES THANKS);
5. it starts with an opt-out word (CANCEL, LEAVE, ALTO, …), whatever follows: STOP_ALL.
   Better to over-honour a STOP than to miss one ("Cancel it", "STOP HEALHT");
   it starts with a help word: HELP ("HELP ME");
6. it starts with a language verb but names no language (LANG KLINGON): LANGUAGE, no choice;
7. anything else: UNKNOWN, with the nearest service keyword if one is near enough.
A join word alone (JOIN, SUBSCRIBE) asks for LIST; a leave word alone (LEAVE, SALIR) is a STOP.

A command's language is the one its words tell: a command word of one language only (ALTO,
AYUDA → es; STOP, used by both, tells none) and an alias whose language the catalogue gives
(SALUD → es; a canonical keyword, HEALTH, tells none). Words that tell different languages
(JOIN SALUD) tell none: the reply is then in the subscriber's language, or the service's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from subscriptions.models import Service
from subscriptions.templates import Templates
from subscriptions.words import Verb, normalise, words_after


@dataclass(frozen=True, slots=True)
class Command:
    verb: Verb
    # JOIN / LEAVE: the canonical keyword (aliases resolved). UNKNOWN: the inactive service the
    # text named, if it named one (reply service_inactive rather than unknown).
    service: str | None = None
    # LANGUAGE: the language chosen (None: none recognised; reply language_help). Otherwise the
    # language the words tell (ALTO, SALUD, UNIR SALUD → "es"; STOP, HEALTH, JOIN SALUD → None).
    language: str | None = None
    suggestion: str | None = None  # UNKNOWN: canonical keyword of a near miss (HEALHT → HEALTH)
    district: str | None = None  # JOIN: the district named after the keyword
    question: str | None = None  # ASK: the text after the keyword, as written


_STOP_ALL = Command(Verb.STOP_ALL)
_NO_LANGUAGE = Command(Verb.LANGUAGE)
_FIRST_WORD_VERBS = frozenset({Verb.STOP_ALL, Verb.HELP})  # honoured whatever follows
_FUZZY_MIN = 3  # shorter words are near everything: only exact matches are suggested
_SHORT = 4  # words of up to this many letters allow one edit, longer ones two
_LOOKALIKES = str.maketrans("0135", "OIES")  # ST0P is STOP typed with a zero
_LONG = 8  # opt-out words this long are misspelt in more ways (UNSUBSCRIBE)


class KeywordParser:
    """Parses citizen texts against a catalogue of services and the templates' command words.
    Build a new one when the catalogue changes."""

    __slots__ = ("_ask", "_districts", "_every", "_exact", "_index", "_join_prefix",
                 "_language_verbs", "_longest", "_named", "_services", "_stop_anywhere",
                 "_stop_words", "_tells")  # fmt: skip

    def __init__(
        self, services: Iterable[Service], templates: Templates,
        districts: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        """``districts``: normalised name or alias → district (Districts.words)."""
        self._districts = dict(districts or {})
        catalogue = list(services)
        active = {normalise(w): s.keyword for s in catalogue if s.active for w in s.words}
        every = {normalise(w): s.keyword for s in catalogue for w in s.words}
        tells = {normalise(a): code for s in catalogue for a, code in s.alias_languages.items()}
        words = _CommandWords(templates)
        self._exact = _commands(active, every, tells, words, templates.language_words)
        self._join_prefix = {join: words.language(Verb.JOIN, join) for join in words.of(Verb.JOIN)}
        self._ask = {ask: words.language(Verb.ASK, ask) for ask in words.of(Verb.ASK)}
        self._every = every
        self._tells = tells
        self._language_verbs = frozenset(words.of(Verb.LANGUAGE))
        self._stop_anywhere = {
            word: Command(Verb.STOP_ALL, language=words.tell(languages))
            for word, languages in words.stop_anywhere.items()
        }
        self._stop_words = tuple(word for word in words.stop_anywhere if " " not in word)
        self._services = active
        self._named = frozenset(every)
        self._index = _deletion_index(active)
        self._longest = max(map(len, active), default=0)

    def parse(self, text: str) -> Command:
        normal = normalise(text)
        command = self._exact.get(normal)
        if command is not None:
            return command
        words = normal.split(" ")
        if words[0] in self._ask and len(words) > 1:
            command = self._question(text, words)
            if command is not None:
                return command
        pair = self._exact.get(f"{words[0]} {words[1]}") if len(words) > 1 else None
        if pair is not None and pair.verb is Verb.LEAVE:
            # STOP HEALTH WEATHER: leaving only HEALTH would miss a STOP; leave them all.
            named = any(word in self._named for word in words[2:])
            return _STOP_ALL if named else pair
        for word in words:
            command = self._stop_anywhere.get(word)
            if command is not None:
                return command
        command = self._exact.get("".join(words))  # S.T.O.P, S T O P
        if command is not None and command.verb is Verb.STOP_ALL:
            return command
        if self._districts and len(words) > 1:
            command = self._join_in_district(words)
            if command is not None:
                return command
        if pair is not None:
            return pair
        command = self._exact.get(words[0])
        if command is not None and command.verb in _FIRST_WORD_VERBS:
            return command
        if words[0] in self._language_verbs:
            return _NO_LANGUAGE
        if len(words) == 1 and self._near_stop(words[0]):
            return _STOP_ALL
        if words[0] in self._ask:
            return self._ask_help(words)
        return self._unknown(words)

    def _question(self, text: str, words: list[str]) -> Command | None:
        """ASK HEALTH <question>: the question as written (None: no service named)."""
        keyword = self._services.get(words[1])
        if keyword is None:
            return None
        rest = words[2:]
        if len(rest) == 1 and rest[0] in self._stop_anywhere:  # ASK HEALTH STOP
            return self._stop_anywhere[rest[0]]
        question = words_after(text, 2).strip() if rest else ""
        language = _agreed(self._ask[words[0]], self._tells.get(words[1]))  # PREGUNTA SALUD
        return Command(Verb.ASK, keyword, language, question=question or None)

    def _ask_help(self, words: list[str]) -> Command:
        """ASK without an open service: the reply explains (or says the service is closed)."""
        closed = self._every.get(words[1]) if len(words) > 1 else None
        if closed is not None and closed not in self._services.values():
            return Command(Verb.UNKNOWN, service=closed, language=self._ask[words[0]])
        return Command(Verb.ASK, language=self._ask[words[0]])

    def _join_in_district(self, words: list[str]) -> Command | None:
        """JOIN HURRICANE TOLEDO, HURRICANE STANN CREEK: the join, with the district."""
        for head in (2, 1):
            command = self._exact.get(" ".join(words[:head]))
            if command is not None and command.verb is Verb.JOIN and len(words) > head:
                district = self._districts.get(" ".join(words[head:]))
                if district is not None:
                    return Command(Verb.JOIN, command.service, command.language,
                                   district=district)  # fmt: skip
        return None

    def _near_stop(self, word: str) -> bool:
        """A misspelt opt-out word said alone (STOPP, ST0P, SOTP): over-honouring an opt-out
        is the safe side. Only the words with no other meaning (stop_anywhere) are near."""
        word = word.translate(_LOOKALIKES)
        return any(_misspelt(word, stop) for stop in self._stop_words if len(stop) >= _SHORT)

    def _unknown(self, words: list[str]) -> Command:
        language = None
        if len(words) > 1 and words[0] in self._join_prefix:
            language = self._join_prefix[words[0]]
            words = words[1:]
        candidates = dict.fromkeys(("".join(words), *words[:3]))  # HEAL TH, then word by word
        for candidate in candidates:
            suggestion = self._suggest(candidate)
            if suggestion is not None:
                return Command(Verb.UNKNOWN, language=language, suggestion=suggestion)
        return Command(Verb.UNKNOWN, language=language)

    def _suggest(self, candidate: str) -> str | None:
        """The canonical keyword nearest to candidate within the allowed edit distance."""
        if candidate in self._services:
            return self._services[candidate]
        if not _FUZZY_MIN <= len(candidate) <= self._longest + 2:
            return None
        best: tuple[int, str] | None = None
        seen: set[str] = set()
        for variant in _deletions(candidate, _allowed(len(candidate))):
            for word in self._index.get(variant, ()):
                if word in seen:
                    continue
                seen.add(word)
                distance = _distance(candidate, word)
                if distance <= _allowed(min(len(candidate), len(word))):
                    found = (distance, self._services[word])
                    best = found if best is None else min(best, found)
        return None if best is None else best[1]


class _CommandWords:
    """The command words of every language, merged: word → the languages that use it."""

    def __init__(self, templates: Templates) -> None:
        self._verbs: dict[Verb, dict[str, set[str]]] = {}
        self.stop_anywhere: dict[str, set[str]] = {}
        for code in templates.languages:
            for verb, words in templates.keywords(code).items():
                for word in words:
                    self._verbs.setdefault(verb, {}).setdefault(word, set()).add(code)
            for word in templates.stop_anywhere(code):
                self.stop_anywhere.setdefault(word, set()).add(code)

    def of(self, verb: Verb) -> list[str]:
        return list(self._verbs.get(verb, {}))

    def language(self, verb: Verb, word: str) -> str | None:
        return self.tell(self._verbs[verb][word])

    @staticmethod
    def tell(languages: set[str]) -> str | None:
        """The language a word tells, if only one language uses it."""
        return next(iter(languages)) if len(languages) == 1 else None


def _commands(
    active: Mapping[str, str],
    every: Mapping[str, str],
    tells: Mapping[str, str],
    words: _CommandWords,
    language_words: Mapping[str, str],
) -> dict[str, Command]:
    """Every text that is a command by itself (after normalise), with its Command.
    `active` / `every`: service word → canonical keyword, of active / all services; `tells`:
    service word → its language, for the aliases whose language is known."""
    exact: dict[str, Command] = {}
    # Lowest priority first: later entries win, so a command word always beats a service.
    for word, keyword in every.items():
        if word not in active:
            exact[word] = Command(Verb.UNKNOWN, service=keyword, language=tells.get(word))
            for join in words.of(Verb.JOIN):
                language = _agreed(words.language(Verb.JOIN, join), tells.get(word))
                exact[f"{join} {word}"] = Command(Verb.UNKNOWN, keyword, language)
    for word, keyword in active.items():
        exact[word] = Command(Verb.JOIN, service=keyword, language=tells.get(word))
        for join in words.of(Verb.JOIN):
            language = _agreed(words.language(Verb.JOIN, join), tells.get(word))
            command = Command(Verb.JOIN, keyword, language)
            exact.setdefault(f"{join}{word}", command)  # JOINHEALTH: a missed space
            exact[f"{join} {word}"] = command
    for word, keyword in every.items():
        for leave in words.of(Verb.LEAVE):
            language = _agreed(words.language(Verb.LEAVE, leave), tells.get(word))
            command = Command(Verb.LEAVE, keyword, language)
            exact.setdefault(f"{leave}{word}", command)
            exact[f"{leave} {word}"] = command
    for join in words.of(Verb.JOIN):
        exact[join] = Command(Verb.LIST, language=words.language(Verb.JOIN, join))
    for leave in words.of(Verb.LEAVE):
        exact[leave] = Command(Verb.STOP_ALL, language=words.language(Verb.LEAVE, leave))
    for verb in words.of(Verb.LANGUAGE):
        exact[verb] = _NO_LANGUAGE
    for word, code in language_words.items():
        exact[word] = Command(Verb.LANGUAGE, language=code)
        for verb in words.of(Verb.LANGUAGE):
            exact[f"{verb} {word}"] = Command(Verb.LANGUAGE, language=code)
    for ask in words.of(Verb.ASK):
        exact[ask] = Command(Verb.ASK, language=words.language(Verb.ASK, ask))
    for verb in (Verb.MY, Verb.LIST, Verb.HELP, Verb.UNSTOP, Verb.STOP_ALL):  # STOP wins
        for word in words.of(verb):
            exact[word] = Command(verb, language=words.language(verb, word))
    return exact


def _agreed(*told: str | None) -> str | None:
    """The language a text's words tell (None: a word that tells none): the one they agree on,
    None if they disagree (JOIN SALUD) or none tells one."""
    languages = {language for language in told if language is not None}
    return languages.pop() if len(languages) == 1 else None


def _misspelt(word: str, stop: str) -> bool:
    """``word`` is ``stop`` with a letter doubled or added (STOPP), or two letters swapped
    (SOTP); a long word may take two edits (UNSUBSCRIB). Not a letter changed: SHOP and STEP
    are words of their own."""
    distance = _distance(word, stop)
    if distance == 0 or (len(stop) >= _LONG and distance <= 2):  # ST0P once 0 reads as O
        return True
    return distance == 1 and (len(word) == len(stop) + 1 or sorted(word) == sorted(stop))


def _allowed(length: int) -> int:
    return 1 if length <= _SHORT else 2


def _deletions(word: str, depth: int) -> set[str]:
    """word and every string made from it by deleting up to `depth` letters."""
    found = {word}
    layer = {word}
    for _ in range(depth):
        layer = {w[:i] + w[i + 1 :] for w in layer for i in range(len(w))}
        found |= layer
    return found


def _deletion_index(words: Mapping[str, str]) -> dict[str, list[str]]:
    """Symmetric-delete index (as in SymSpell): two words within k edits share a string
    reachable from each by at most k deletions, so a look-up needs no scan of the catalogue."""
    index: dict[str, list[str]] = {}
    for word in words:
        for variant in _deletions(word, _allowed(len(word))):
            index.setdefault(variant, []).append(word)
    return index


def _distance(a: str, b: str) -> int:
    """Damerau–Levenshtein distance, optimal-string-alignment variant (HEALHT → HEALTH is 1)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, previous2[j - 2] + 1)
            current.append(value)
        previous2, previous = previous, current
    return previous[-1]
