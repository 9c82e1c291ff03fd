"""Scheduled recipes: a routed task run by the system's own scheduler, each run a job.

- :mod:`~omcm.schedules.spec`: a schedule (name, how often, the task, who runs it) and
  its record in the state dir, ``schedules/NAME.json`` (with every file ``add`` wrote);
- :mod:`~omcm.schedules.units`: what each scheduler is given: a systemd user timer and
  service, a launchd agent, a crontab line;
- :mod:`~omcm.schedules.manager`: ``add``, ``list``, ``remove``, enabling a timer when
  a user systemd manager runs.

A scheduled run is ``omcm schedule run NAME``: the task through the ``schedule`` door as
a job (``omcm jobs``, ``omcm result``), booked like any routed call.
"""
