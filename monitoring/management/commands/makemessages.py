"""Django's makemessages, which also finds the scripts' OEE.t("…") and OEE.tf("…", values) words.

static/oee/common.js wraps Django's gettext in OEE.t and OEE.tf (with %(name)s filled in); without
these keywords their msgids would be left out of djangojs.po, and the pages would stay in English.
"""

from __future__ import annotations

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    def handle(self, *args, **options) -> None:
        if options.get("domain") == "djangojs":
            self.xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=t", "--keyword=tf"]
        super().handle(*args, **options)
