r"""``python -m gsat ...``: the same command line as the ``gsat`` console script."""
from gsat.app.cli import main

if __name__ == "__main__":
    main()
