"""hulw's parallel executor: a plan's task graph run across providers, each task a job.

Plans read and analysed (:mod:`~omcm.batch.plan`, :mod:`~omcm.batch.check`), the
scheduler (:mod:`~omcm.batch.executor`), and a batch as a job of its own
(:mod:`~omcm.batch.runner`).
"""
