"""``python -m almkit`` runs the command line."""

from almkit.cli import main

if __name__ == "__main__":
    main()
