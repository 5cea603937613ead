"""`python -m drills` is `genesis-drill`."""

from drills.cli.main import main

main()
