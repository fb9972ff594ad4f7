"""Train GSAT on a dataset and explain its predictions: ``python run_gsat.py --help``."""
from gsat.app.cli import main

if __name__ == "__main__":
    main()
