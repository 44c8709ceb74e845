"""`python -m shipper` is `shipper`."""

from shipper.cli import main

if __name__ == "__main__":  # transform workers start by spawning: importing must not run the CLI
    main()
