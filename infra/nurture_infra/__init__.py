"""AWS CDK app that deploys nurture (see infra/README.md)."""
