"""Who may call us: API tokens, the failed-authentication throttle, orgs and their users."""
