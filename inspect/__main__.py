"""`python -m checkonce` runs the command-line interface."""

from checkonce.cli import main

main()
