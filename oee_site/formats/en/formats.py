"""English formats for a plant: a 24-hour clock and ISO-like dates (Django's say "Dec. 3, 2026, 6:26 a.m.").

Only what differs from Django's English formats is here; the rest (and French and German, which
already use a 24-hour clock) come from Django.
"""

DATE_FORMAT = "j M Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j M Y H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
MONTH_DAY_FORMAT = "j M"
# Week starts on Monday, as shifts and weekly reports do.
FIRST_DAY_OF_WEEK = 1
# Input: ISO and day/month/year first, every one on a 24-hour clock.
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d %b %Y", "%d %B %Y"]
TIME_INPUT_FORMATS = ["%H:%M:%S", "%H:%M", "%H:%M:%S.%f"]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S.%f",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
]
