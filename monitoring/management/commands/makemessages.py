"""Django's makemessages, which also finds the scripts' OEE.t("…") and OEE.tf("…", values) words.

It merges without fuzzy matching (see below).

static/oee/common.js wraps Django's gettext in OEE.t and OEE.tf (with %(name)s filled in); without
these keywords their msgids would be left out of djangojs.po, and the pages would stay in English.
"""

from __future__ import annotations

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    # A new msgid gets no guessed translation from a similar old one: a fuzzy entry never reaches the
    # pages, and an empty one is what a translator looks for.
    msgmerge_options = [*makemessages.Command.msgmerge_options, "--no-fuzzy-matching"]

    def handle(self, *args, **options) -> None:
        if options.get("domain") == "djangojs":
            self.xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=t", "--keyword=tf"]
        super().handle(*args, **options)
