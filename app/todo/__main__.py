"""Development server: ``DB=mongodb://localhost:27017/todo PORT=8080 python -m todo``.

It listens on 127.0.0.1 only; the container runs gunicorn instead (see ``todo.wsgi``).
"""

from __future__ import annotations

from todo.config import configure_logging, load_config_or_exit
from todo.web import create_app_from_config


def main() -> None:
    config = load_config_or_exit()
    configure_logging()
    create_app_from_config(config).run(host="127.0.0.1", port=config.port)


if __name__ == "__main__":
    main()
