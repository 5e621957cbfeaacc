"""The `mydb` subcommands, one module per group; each command takes a Context and returns an exit code."""
