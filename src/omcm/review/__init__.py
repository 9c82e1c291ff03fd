"""Code review by a provider, outside Claude's own turn.

- :mod:`~omcm.review.findings`: the one review format (JSON findings), its schema, and
  reading an answer against it;
- :mod:`~omcm.review.diff`: what is reviewed (the staged diff, a turn's diff), within
  ``review.max_diff_kb``;
- :mod:`~omcm.review.run`: a review as a routed call and a job, and its verdict;
- :mod:`~omcm.review.githook`: ``omcm git-hook install|remove`` (a plain pre-commit hook);
- :mod:`~omcm.review.snapshot` and :mod:`~omcm.review.gate`: the review gate at Stop.
"""
