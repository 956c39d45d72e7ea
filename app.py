"""Start the ganlab app: ``python app.py`` (see README.md). Builds the Gradio app and launches it."""

import argparse

from ganlab.ui.app import launch

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Start the ganlab app.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for a classroom)")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args()
    launch(server_name=args.host, server_port=args.port)
