// Preloaded into every Node process that npm or npx starts in this project
// (.npmrc: node-options), so a plain `npx cdktf ...` behaves like `make`.
//
// CDKTF sends telemetry ("checkpoint") to checkpoint-api.hashicorp.com after
// each command and prints `getaddrinfo ENOTFOUND checkpoint-api.hashicorp.com`
// wherever that host cannot be reached. CHECKPOINT_DISABLE turns it off (for
// the Terraform it runs too). An operator's own setting, even empty, wins.
if (process.env.CHECKPOINT_DISABLE === undefined) {
  process.env.CHECKPOINT_DISABLE = "1";
}
