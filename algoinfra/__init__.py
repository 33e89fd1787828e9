"""algorithm-server-infra: config, naming, constructs and tooling for the CDKTF app."""
