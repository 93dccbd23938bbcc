"""Experiments: A/B variants and holdouts, assigned from the contact id, measured with
intervals, and a proposed winner for the marketer to push (never a silent switch)."""
