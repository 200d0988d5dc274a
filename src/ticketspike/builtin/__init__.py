"""The built-in plugins: what makes the embedded default work with no service at all.

Each module is a plugin registered exactly like a third-party one (listed in
``ticketspike.plugins.DEFAULT_PLUGINS``), so a host can block any of them by name, and any
installed plugin serving the same role or action kind takes precedence:

* ``jsonl_source``: the canonical ticket JSON as a ticket source (signed webhooks, file backfill);
* ``accounts_file``: the accounts file as an account directory;
* ``console``: a notifier printing the alert text;
* ``email_drafter``: records approval-gated e-mail drafts (optionally as ``.eml`` files);
* ``outbox``: records tasks, health-score changes, war-room entries and syncs for the host;
* ``analysis``: the statistical theme analyzer and classifier.
"""
