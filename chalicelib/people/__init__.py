"""A contact as marketers see it and act on it: view, actions, GDPR export and erasure."""
