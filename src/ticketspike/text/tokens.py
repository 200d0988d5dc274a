"""Turning hostile ticket text into plain word tokens, for the classifier and themes.

Ticket subjects and bodies are written by customers, pasted from e-mails and
chat tools, and may carry markup, Slack mentions such as ``<!channel>``,
template braces or links. Nothing here ever lets those through: the only
output is lower-case word tokens made of letters and digits, so a phrase
assembled from them cannot ping anyone or inject into a template.

Pure: no I/O, no clock, no state. The stemmer is deliberately light (plural
and verb endings only) because its job is to merge "errors"/"error" and
"failing"/"failed", not to be linguistically right; a heavy stemmer would
produce stems no human can read back.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator

__all__ = [
    "ACRONYMS",
    "GENERIC_WORDS",
    "STOP_WORDS",
    "clean",
    "display_phrase",
    "segments",
    "stem",
    "tokens",
]

# Order matters: whole constructs go before the characters inside them.
_STRIP_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"<!--.*?-->", re.S),  # HTML comments
    re.compile(r"<(script|style)\b.*?</\1\s*>", re.S | re.I),
    re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S),  # Jinja / Liquid / Handlebars
    re.compile(r"\$\{[^}]*\}"),  # shell / JS template literals
    re.compile(r"<[!@#][^>]*>"),  # Slack <!channel>, <@U123>, <#C123|name>
    re.compile(r"<[^>]{0,500}>"),  # HTML tags
    re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+", re.I),  # links
    re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b"),  # e-mail addresses
    re.compile(r"(?<!\w)[@#]\w+"),  # @here, @user, #channel
    re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
)

# Multi-word spellings of one idea, joined before tokenising so that
# "log in", "log-in", "sign in" and "login" count as the same word: customers
# use them interchangeably, and a theme split across spellings looks smaller
# than it is. "single sign-on" goes first, or its "sign-on" would become a login.
_COMPOUNDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bsingle[\s-]+sign[\s-]*on\b", re.I), " sso "),
    (re.compile(r"\b(?:log|sign)(?:ged|ging|ed|ing)?[\s-]*(?:in|on)(?:to)?\b", re.I), " login "),
    (re.compile(r"\blog[\s-]+out\b", re.I), " logout "),
    (re.compile(r"\bsign[\s-]+up\b", re.I), " signup "),
    (re.compile(r"\btwo[\s-]+factor\b|\b2[\s-]?fa\b", re.I), " 2fa "),
    (re.compile(r"\bmulti[\s-]+factor\b", re.I), " mfa "),
    (re.compile(r"\be[\s-]mail", re.I), "email"),
    (re.compile(r"\bset[\s-]+up\b", re.I), " setup "),
    (re.compile(r"\btim(?:e|es|ed|ing)[\s-]+out\b", re.I), " timeout "),
    (re.compile(r"\bwork[\s-]+around\b", re.I), " workaround "),
    (re.compile(r"\bcustomer[\s-]+(?:service|support|care)\b", re.I), " customerservice "),
    (re.compile(r"\bcan ?not\b|\bcan't\b|\bcant\b", re.I), " cannot "),
    (re.compile(r"\bwon't\b|\bwont\b", re.I), " will not "),
    (re.compile(r"\b(do|does|did|is|are|was|were|has|have|had)n't\b", re.I), r" \1 not "),
)

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SEGMENT_BREAK = re.compile(r"[.!?;:,()\[\]\n\r\t|\"]+|\s[-/]\s")

STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above after again against all almost also am an and any anyone anything are aren
    as at be because been before being below between both but by can could couldn did didn do
    does doesn doing don done down during each either else even ever every few for from further
    get gets getting got had hadn has hasn have haven having he her here hers herself him himself
    his how i if in into is isn it its itself just let lets like ll me might mine more most much
    must my myself need needs no nor not now of off on once one only or other our ours ourselves
    out over own per please pls plz re really same she should shouldn since so some still such
    than that the their theirs them themselves then there these they this those though through
    to too under until up upon us ve very via was wasn way we were weren what when where whether
    which while who whom whose why will with within without would wouldn yet you your yours
    yourself yourselves s t d m o y hi hello hey dear thanks thank thx cheers regards best kind
    team guys folks today yesterday tomorrow morning afternoon evening week weeks day days
    ago again already anyway asap urgent urgently quick quickly soon maybe sure okay ok yes yeah
    able unable seem seems seemed seeing see sees saw look looks looking trying tried try tries
    want wants wanted know knows knew think thought going go goes went come comes came make makes
    made use used uses using said say says tell told ask asked asking hope hoping wonder
    wondering sorry also etc eg ie im ive id youre theyre thats whats isnt dont doesnt didnt
    lot lots bit thing things something someone somebody anybody everyone everything nothing
    cannot hour hours minute minutes month months year years monthly weekly daily tonight
    monday tuesday wednesday thursday friday saturday sunday since recently lately""".split()
)

# Words that are fine inside a phrase ("login issues") but say nothing alone.
GENERIC_WORDS: frozenset[str] = frozenset(
    """
    issue problem question help support ticket request error trouble happen happening happened
    work working worked works broken fail failing failed failure time times customer customers
    user users account accounts access page screen app application system service product
    feature update new old number
    message messages email call meeting contact info information detail details
    still anymore keep keeps kept sometimes always never again right wrong different same
    change changed changing check checked checking take taking find show give put long live
    talk speak wait waiting moved status option options way
    """.split()
)

# Tokens shown in upper case when a phrase is displayed.
ACRONYMS: dict[str, str] = {
    "api": "API",
    "sso": "SSO",
    "saml": "SAML",
    "2fa": "2FA",
    "mfa": "MFA",
    "csv": "CSV",
    "pdf": "PDF",
    "url": "URL",
    "urls": "URLs",
    "sdk": "SDK",
    "ui": "UI",
    "vat": "VAT",
    "ssl": "SSL",
    "tls": "TLS",
    "dns": "DNS",
    "http": "HTTP",
    "https": "HTTPS",
    "ip": "IP",
    "json": "JSON",
    "xml": "XML",
    "oauth": "OAuth",
    "ios": "iOS",
    "gdpr": "GDPR",
    "crm": "CRM",
    "ach": "ACH",
    "po": "PO",
    "cpu": "CPU",
    "ux": "UX",
    "scim": "SCIM",
    "ldap": "LDAP",
    "jwt": "JWT",
    "smtp": "SMTP",
    "apis": "APIs",
    "sdks": "SDKs",
    "csvs": "CSVs",
    "pdfs": "PDFs",
    "ai": "AI",
    "faq": "FAQ",
    "kpi": "KPI",
    "rbac": "RBAC",
    # Words joined while cleaning, shown as customers write them.
    "customerservice": "customer service",
}

_HTTP_STATUS = re.compile(r"[45]\d\d")
_STATUS_ABBREVIATION = re.compile(r"[45]\d\ds")


def clean(text: str) -> str:
    """Plain text with markup, mentions, template braces, links and addresses removed."""
    if not text:
        return ""
    out = html.unescape(text)
    for pattern in _STRIP_PATTERNS:
        out = pattern.sub(" ", out)
    out = out.replace("’", "'").replace("‘", "'")
    for pattern, replacement in _COMPOUNDS:
        out = pattern.sub(replacement, out)
    return out


def _keep(word: str) -> bool:
    if word.isdigit():
        # "500 errors" and "404" are meaningful; order numbers and dates are not.
        return bool(_HTTP_STATUS.fullmatch(word))
    if not word.isalpha() and sum(c.isdigit() for c in word) >= 3:
        # Letters and digits mixed: an order, invoice or ticket id ("ord10042",
        # "inv2024"), a hash or a serial, never a word ("2fa", "python3", "5xx").
        return bool(_STATUS_ABBREVIATION.fullmatch(word))
    return len(word) > 1


def segments(text: str) -> Iterator[list[str]]:
    """Runs of raw lower-case word tokens between punctuation breaks.

    Phrases are only built inside one segment, so "billing. API" never
    becomes the phrase "billing api". Stop words are kept here (phrase
    builders decide what to drop); apostrophe endings are dropped.
    """
    for part in _SEGMENT_BREAK.split(clean(text).lower()):
        words = []
        for match in _WORD.finditer(part):
            word = match.group(0).split("'", 1)[0]
            if word and _keep(word):
                words.append(word)
        if words:
            yield words


def tokens(text: str) -> list[str]:
    """Content words of ``text``: lower case, no stop words, unstemmed."""
    return [w for seg in segments(text) for w in seg if w not in STOP_WORDS]


_EXCEPTIONS: dict[str, str] = {
    "this": "this",
    "was": "was",
    "has": "has",
    "is": "is",
    "its": "its",
    "bus": "bus",
    "status": "status",
    "access": "access",
    "process": "process",
    "address": "address",
    "business": "business",
    "analysis": "analysis",
    "always": "always",
    "news": "news",
    "series": "series",
    "ios": "ios",
    "sms": "sms",
    "dns": "dns",
    "https": "https",
    "yes": "yes",
    "less": "less",
    "class": "class",
    "loss": "loss",
    "success": "success",
    "logging": "log",
    "logged": "log",
    "billing": "bill",
    "billed": "bill",
    "settings": "setting",
    "charging": "charge",
    "charged": "charge",
    "charges": "charge",
    "during": "during",
    "nothing": "nothing",
    "something": "something",
    "anything": "anything",
    "everything": "everything",
    "thing": "thing",
    "string": "string",
    "bring": "bring",
    "ring": "ring",
    "ping": "ping",
    "spring": "spring",
    "duplicated": "duplicate",
    "duplicates": "duplicate",
    "updated": "update",
    "updates": "update",
    "updating": "update",
    "used": "use",
    "using": "use",
    "uses": "use",
    "timed": "time",
    "timeouts": "timeout",
    "paid": "pay",
    "paying": "pay",
    "payed": "pay",
    "crashes": "crash",
    "crashed": "crash",
    "crashing": "crash",
    "wrongly": "wrong",
    "slowly": "slow",
    "slowness": "slow",
    "invoiced": "invoice",
    "invoicing": "invoice",
    "invoices": "invoice",
    "refunded": "refund",
    "sso": "sso",
    "saml": "saml",
    "api": "api",
    "apis": "api",
    "data": "data",
    "declined": "decline",
    "declining": "decline",
    "changed": "change",
    "changing": "change",
    "caches": "cache",
    "cached": "cache",
    "caching": "cache",
    "archived": "archive",
    "having": "have",
    "coming": "come",
    "making": "make",
    "taking": "take",
    "giving": "give",
    "issued": "issue",
    "continued": "continue",
    "received": "receive",
    "receiving": "receive",
    "pricing": "price",
    "priced": "price",
    "sending": "send",
    "logins": "login",
}


def stem(word: str) -> str:
    """A light stem: drops plural and common verb endings, keeps it readable."""
    if word in _EXCEPTIONS:
        return _EXCEPTIONS[word]
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "zzes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            if len(base) >= 3 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]  # stopped -> stop, logged -> log
            elif base.endswith(("at", "iz", "bl", "ir", "ur", "ag")) or (
                len(base) >= 3
                and base[-1] not in "aeiouwy"
                and base[-2] in "aeiou"
                and base[-3] not in "aeiou"
                and len(base) <= 4
            ):
                base = base + "e"  # created -> create, saved -> save
            return base
    return word


def display_phrase(words: Iterable[str]) -> str:
    """Words joined for display, acronyms in their usual case."""
    return " ".join(ACRONYMS.get(w, w) for w in words)
