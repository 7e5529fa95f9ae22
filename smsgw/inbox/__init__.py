"""Citizens ask, ministries answer: tickets per service, their threads, and service levels."""
