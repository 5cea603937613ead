"""The `genesis-drill` command line: thin click commands that call one core function each."""
