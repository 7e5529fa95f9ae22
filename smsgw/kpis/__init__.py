"""The programme's KPIs: the figures the store counts, the calendar they are counted in
(programme years, days and months in the gateway's time zone), and live rates."""
