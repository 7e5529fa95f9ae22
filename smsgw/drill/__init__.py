"""Emergency-alert drills (``smsgw drill``): an alert through the real intake and fan-out,
timed at the SMSCs, and a readiness report. command.py is the entry; plan, smsc and
simulated run it on the built-in simulator, live.py on the running gateway's exercise list,
figures, report and chart say what it showed."""


class DrillError(Exception):
    """The drill could not run to its end (exit 1, with what went wrong)."""
