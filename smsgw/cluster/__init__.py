"""Several gateways on one database: which binds this one holds (leases), and who else runs."""
