"""Lead scoring (`scoring.yaml`): fit x engagement x stage, hot / warm / cold, decay computed at
read, a receipt for every point, and an alert when a lead turns hot.

- `model`: the file; `files`: reading it; `schema`: its JSON Schema.
- `ledger`: engagement lines with decay and daily caps (exact decimals);
  `fit`: fit rules with receipts; `state`: the score stored on a profile.
- `scorer`: the pure core (an event, a profile change or the clock → a new score and what
  happened); `receipts` / `explain`: receipts as data and as text.
- `service`: the use cases on the table (from the stream, at a deadline, explain, rescore,
  distribution); `backtest`: a scoring file tried on stored history.

Only `state` and `ledger` load with a profile; the rest loads on use.
"""
