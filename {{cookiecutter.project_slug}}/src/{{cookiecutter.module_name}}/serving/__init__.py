"""Real-time serving: request schemas, the BentoML service, its guard and bento."""
