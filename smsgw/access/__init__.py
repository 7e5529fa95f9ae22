"""Who may act (API tokens, roles, a ministry's scope) and the record of what they did."""
