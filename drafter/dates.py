"""Dates as records and letters write them: 3/5/2015, 03-05-15, 2015-03-05, March 5, 2015, 5 March 2015."""

from __future__ import annotations

import datetime as dt
import re

MONTHS = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
MONTH_WORD = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
# a date as records write it: 3/5/2015, 03-05-15, 2015-03-05, March 5, 2015, 5 March 2015
DATE = (rf"(?:\d{{1,2}}[/-]\d{{1,2}}[/-](?:\d{{4}}|\d{{2}})(?![\d/])|\d{{4}}-\d{{2}}-\d{{2}}|{MONTH_WORD}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
        rf"|\d{{1,2}}\s+{MONTH_WORD}\.?,?\s+\d{{4}})")
MONTH_YEAR = rf"(?:\d{{1,2}}/\d{{4}}|{MONTH_WORD}\.?,?\s+\d{{4}}|\d{{4}})"


def parse_date(text: str) -> dt.date | None:
    """The first full date in `text` (US numeric, ISO or written month), or None."""
    m = re.search(DATE, text, re.I)
    if not m:
        return None
    s = m.group(0)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            return dt.date.fromisoformat(s)
        n = re.fullmatch(r"(\d{1,2})[/-](\d{1,2})[/-](\d{2,4})", s)
        if n:
            y = int(n.group(3))
            y = y + (2000 if y < 50 else 1900) if y < 100 else y
            return dt.date(y, int(n.group(1)), int(n.group(2)))
        w = re.fullmatch(rf"({MONTH_WORD})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})", s, re.I)
        if w:
            return dt.date(int(w.group(3)), MONTHS[w.group(1)[:3].lower()], int(w.group(2)))
        w = re.fullmatch(rf"(\d{{1,2}})\s+({MONTH_WORD})\.?,?\s+(\d{{4}})", s, re.I)
        if w:
            return dt.date(int(w.group(3)), MONTHS[w.group(2)[:3].lower()], int(w.group(1)))
    except ValueError:
        return None
    return None


def parse_month_year(text: str) -> dt.date | None:
    """A full date, else a month and year ("1/2014", "January 2014") as its 15th, else a year ("2017", "early
    2017", "late 2017") as 1 July, 15 February or 15 November."""
    d = parse_date(text)
    if d:
        return d
    m = re.search(r"\b(\d{1,2})/(\d{4})\b", text)
    if m and 1 <= int(m.group(1)) <= 12:
        return dt.date(int(m.group(2)), int(m.group(1)), 15)
    m = re.search(rf"\b({MONTH_WORD})\.?,?\s+(\d{{4}})\b", text, re.I)
    if m:
        return dt.date(int(m.group(2)), MONTHS[m.group(1)[:3].lower()], 15)
    m = re.search(r"\b(?:(early|mid|late)[- ]?)?(19[5-9]\d|20[0-4]\d)\b", text, re.I)
    if not m:
        return None
    # "early 2017" as mid-February, "late 2017" as mid-November; a bare year (or "mid") as 1 July
    month, day = {"early": (2, 15), "late": (11, 15)}.get((m.group(1) or "").lower(), (7, 1))
    return dt.date(int(m.group(2)), month, day)


def dates_in(text: str) -> list[tuple[int, dt.date]]:
    out = []
    for m in re.finditer(DATE, text, re.I):
        d = parse_date(m.group(0))
        if d:
            out.append((m.start(), d))
    return out


def us_date(iso: str) -> str:
    """'2014-03-05' (or an ISO datetime) as a letter writes it: '03/05/2014'."""
    y, m, d = str(iso)[:10].split("-")
    return f"{m}/{d}/{y}"
