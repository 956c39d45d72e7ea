"""Start the ganlab app: ``python app.py`` (see README.md). Builds the Gradio app and launches it.

``demo`` is built at module level, so Gradio's reload mode (``gradio app.py``) finds it too. The address
comes from ``--host``/``--port``, else Gradio's own ``GRADIO_SERVER_NAME``/``GRADIO_SERVER_PORT`` (as
Docker images and Spaces set them), else 127.0.0.1:7860.
"""

import argparse
import os

from ganlab.ui.app import build_app, launch

if __name__ == "__main__":  # parsed before the app is built, so --help answers at once
    parser = argparse.ArgumentParser(description="Start the ganlab app.")
    parser.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1",
        help="address to listen on (0.0.0.0 for a classroom); default $GRADIO_SERVER_NAME or 127.0.0.1",
    )
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT") or 7860), help="default $GRADIO_SERVER_PORT or 7860"
    )
    args = parser.parse_args()

demo = build_app(host=args.host, port=args.port) if __name__ == "__main__" else build_app()

if __name__ == "__main__":
    launch(demo, server_name=args.host, server_port=args.port)
