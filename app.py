"""Start the ganlab app: ``python app.py`` (see README.md)."""

import sys

if __name__ == "__main__":
    print("ganlab: the app is not built yet; use the CLI: python -m ganlab --help", file=sys.stderr)
    sys.exit(0)
