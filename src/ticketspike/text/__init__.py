"""Text analysis of ticket subjects and bodies: pure functions, no I/O, no threads.

* :mod:`~ticketspike.text.tokens`: cleaning, tokenizing and stemming.
* :mod:`~ticketspike.text.vocabulary`: the bundled phrases per category.
* :mod:`~ticketspike.text.classify`: the built-in naive Bayes classifier and its settings.
* :mod:`~ticketspike.text.themes`: the built-in statistical theme analyzer.
* :mod:`~ticketspike.text.trouble`: the words that say something is wrong.

Asking a plugin's classifier or theme analyzer within a time budget (a worker thread) is
:mod:`ticketspike.plugin_runners`' job, next to the plugin manager.
"""
