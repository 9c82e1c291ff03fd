"""Background jobs: routed calls that run on after the process that asked.

Records and their folders (:mod:`~omcm.jobs.store`, the one place a job is made),
the detached worker that runs a call through the pipeline (:mod:`~omcm.jobs.worker`),
the watchdog that finishes what a killed process left (:mod:`~omcm.jobs.watchdog`),
and handing each answer to Claude exactly once (:mod:`~omcm.jobs.delivery`).
"""
