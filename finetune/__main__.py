# ruff: noqa: E402  -- the environment is settled before huggingface_hub is imported (it reads it then)
import sys

from .core.environment import settle

settle()  # before the libraries that read the environment start

from .cli import main

sys.exit(main())
