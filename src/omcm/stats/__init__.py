"""``omcm stats`` and ``omcm savings``: what OMCM did and saved, read from the routing log.

A module per concern:

- :mod:`~omcm.stats.rows`: the log's lines as typed rows (and their stored form);
- :mod:`~omcm.stats.lines`: a line of the log read into its row;
- :mod:`~omcm.stats.index`: each rotated file's rows and day tallies, saved beside it
  (``.rows``);
- :mod:`~omcm.stats.reading`: the files a report needs, read on every core;
- :mod:`~omcm.stats.filters`: which rows count (window, session, provider, agent, mode);
- :mod:`~omcm.stats.periods`: the local calendar periods a report is cut into;
- :mod:`~omcm.stats.observations`: what subagents cost on Claude, the basis of estimates;
- :mod:`~omcm.stats.tally`: the figures of a period, and of the total;
- :mod:`~omcm.stats.prices`: what provider and Claude tokens cost;
- :mod:`~omcm.stats.report`: ``omcm stats`` as a dict (``--json``);
- :mod:`~omcm.stats.render` and :mod:`~omcm.stats.html`: the report as text, as a page;
- :mod:`~omcm.stats.savings`: ``omcm savings``;
- :mod:`~omcm.stats.whatif`: ``omcm savings --what-if``, from Claude Code's transcripts.
"""
