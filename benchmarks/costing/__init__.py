"""The measured cost model behind `benchmarks/cost.py`: a meter on botocore, a price table and
the facts of the synthesized template."""
